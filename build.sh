#!/usr/bin/env bash
# CudaAdam's one entry point.
#   ./build.sh setup   install what the project needs (idempotent): apt packages as root on Debian,
#                      NuGet restore, the native emulator library
#   ./build.sh build   compile the solution (Release)
#   ./build.sh test    run the NUnit suite (runs setup first when something is missing)
#   ./build.sh run     the main job on its embedded default config (runs setup first when needed)
#   ./build.sh bench   the benchmarks that run on this machine
#   ./build.sh docs    the API reference (docfx, a local dotnet tool: .config/dotnet-tools.json) into .build/docs/index.html
#   ./build.sh gen     regenerate kernels/scalars.gen.cuh, tests/oracle/cases.json and src/CudaAdam/Algorithm.gen.cs from the descriptors
#   ./build.sh pack    NuGet packages (CudaAdam, .Cuda, .Training, .Experiments; the CLI as the tool CudaAdam.Cli) in
#                      artifacts/ [--no-build] [-o DIR]; VERSION_SUFFIX=rc.1 makes 0.1.0-rc.1 (the version: Directory.Build.props)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
CONFIG=${CONFIG:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
APT_PACKAGES=(libnvrtc11.2 python3-torch python3-scipy python3-numpy dataset-fashion-mnist g++ make libopenblas0-pthread)
STAMP="$ROOT/.build/setup.stamp"

log() { printf '[build.sh] %s\n' "$*" >&2; }

missing_apt() {
  local p out=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[@]:-}"
}

enable_non_free() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ] && ! grep -q 'non-free' "$f"; then
    log "enabling the apt components contrib non-free in $f (libnvrtc11.2 lives in non-free)"
    sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' "$f"
  elif [ -f /etc/apt/sources.list ] && grep -q '^deb .*debian' /etc/apt/sources.list && ! grep -q 'non-free' /etc/apt/sources.list; then
    sed -i 's/^\(deb .*debian.* main\)$/\1 contrib non-free/' /etc/apt/sources.list
  fi
}

setup_apt() {
  local miss; miss=$(missing_apt)
  [ -z "$miss" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    enable_non_free
    log "apt-get install $miss"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss >/dev/null; }; then
      log "apt-get could not install: $(missing_apt)"
      log "  (no network or no Debian mirror?) the tests that need them skip, saying so"
    fi
  else
    log "missing Debian packages: $miss"
    log "  install them as root:  enable 'non-free' in /etc/apt/sources.list.d/debian.sources, then"
    log "  apt-get update && apt-get install $miss"
    log "  (tests that need them skip, saying so)"
  fi
}

setup_native() {
  if command -v g++ >/dev/null; then
    make -s -C native/emu OUT="$ROOT/.build/native" >/dev/null
  else
    log "g++ not found: the host emulator is not built (apt-get install g++); emulator tests skip"
  fi
}

setup() {
  setup_apt
  setup_native
  dotnet restore CudaAdam.sln --nologo -v q
  mkdir -p "$(dirname "$STAMP")"; date > "$STAMP"
}

needs_setup() {
  [ ! -f "$STAMP" ] || [ -n "$(missing_apt)" ] || [ ! -f .build/native/libcudaadam_emu.so ]
}

# make first (incremental): kernel edits reach the emulator library before the assemblies copy it.
build() { setup_native; dotnet build CudaAdam.sln -c "$CONFIG" --nologo -v q -clp:ErrorsOnly; }

# Packs what `build` compiled. The folder gets exactly one version of each package (older .nupkg files there are removed,
# so it can serve as a local feed). The emulator library must exist: CudaAdam.Cuda carries it (runtimes/linux-x64/native).
pack() {
  local out="$ROOT/artifacts" do_build=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-build) do_build=0 ;;
      -o) [ $# -ge 2 ] || { echo "build.sh pack: -o needs a folder" >&2; exit 2; }; out=$2; shift ;;
      *) echo "build.sh pack: unknown option '$1' (known: --no-build, -o DIR)" >&2; exit 2 ;;
    esac
    shift
  done
  if [ "$do_build" = 1 ]; then needs_setup && setup; build; fi
  [ -f .build/native/libcudaadam_emu.so ] || { echo "build.sh pack: .build/native/libcudaadam_emu.so is missing: run ./build.sh setup (needs g++ and make)" >&2; exit 2; }
  mkdir -p "$out"; out=$(cd "$out" && pwd)
  rm -f "$out"/CudaAdam*.nupkg "$out"/CudaAdam*.snupkg
  dotnet pack CudaAdam.sln -c "$CONFIG" --no-build --nologo -v q -clp:ErrorsOnly -o "$out" \
    ${VERSION_SUFFIX:+--version-suffix "$VERSION_SUFFIX"}
  log "packages in $out: $(cd "$out" && ls *.nupkg | tr '\n' ' ')"
}

# The API reference from the four libraries' XML docs (CS1591 is an error there, so every public member has one).
docs() {
  needs_setup && setup; build
  dotnet tool restore >/dev/null
  rm -rf "$ROOT/.build/docs" "$ROOT/docs/api/reference"
  dotnet docfx docs/api/docfx.json --warningsAsErrors
  log "API reference: $ROOT/.build/docs/index.html"
}

cli() { dotnet "src/CudaAdam.Cli/bin/$CONFIG/net10.0/CudaAdam.Cli.dll" "$@"; }

run_tests() {
  local log="$ROOT/.build/test.log" trx_dir="$ROOT/.build/TestResults"
  rm -rf "$trx_dir"; mkdir -p "$trx_dir"
  set +e
  dotnet test tests/CudaAdam.Tests/CudaAdam.Tests.csproj -c "$CONFIG" --no-build --nologo \
    --logger "console;verbosity=minimal" --logger "trx;LogFileName=results.trx" \
    --results-directory "$trx_dir" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  # One plain closing line: "Tests: N passed, N failed, N skipped".
  python3 - "$trx_dir/results.trx" <<'PY' || true
import sys, xml.etree.ElementTree as ET
try:
    c = ET.parse(sys.argv[1]).getroot().find('.//{*}Counters').attrib
except Exception as e:
    print(f"(no test results found: {e})"); sys.exit(0)
total, passed, failed = int(c['total']), int(c['passed']), int(c['failed']) + int(c.get('error', 0))
print(f"Tests: {passed} passed, {failed} failed, {total - passed - failed} skipped")
PY
  return "$rc"
}

cmd=${1:-help}; shift || true
case "$cmd" in
  setup) setup ;;
  build) needs_setup && setup; build ;;
  test)  needs_setup && setup; build; run_tests "$@" ;;
  run)   needs_setup && setup; build; cli run "$@" ;;
  bench) needs_setup && setup; build; cli bench "$@" ;;
  cli)   cli "$@" ;;
  pack)  pack "$@" ;;
  docs)  docs ;;
  gen)   dotnet build src/CudaAdam.Cli/CudaAdam.Cli.csproj -c "$CONFIG" --nologo -v q -clp:ErrorsOnly
         cli kernels --write-scalar-header kernels/scalars.gen.cuh --write-cases tests/oracle/cases.json \
           --write-algorithm-enum src/CudaAdam/Algorithm.gen.cs ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
