#!/usr/bin/env bash
# Packs what the GPU machine needs into the git-ignored folder .device/ (run HERE, on a machine with the .NET SDK),
# rebuilt from scratch every time (nothing stale from an earlier pack travels):
#   .device/app/                      framework-dependent `dotnet publish` of the CLI (kernels embedded as resources;
#                                     no emulator library, no .pdb/.xml): about 20 MiB
#   .device/dotnet-runtime.tar.xz     the dotnet host + Microsoft.NETCore.App (the GPU machine has no .NET): about 26 MiB
#                                     (cached in .build/device/ and reused while this machine's runtime is unchanged)
#   .device/fmnist/                   the first PACK_TRAIN=10000 / PACK_TEST=2000 Fashion-MNIST images for the train
#                                     stage, when Debian's dataset-fashion-mnist is installed: about 5 MiB
#                                     (PACK_DATA=0: none; the train stage then uses the embedded 1,000/500 subset)
# Then, with the `device` tool:  run(command="scripts/device/run-on-gpu.sh all", carry=[".device"])  (see --plan)
# Everything that travels (the tracked and untracked-unignored files of the working tree, plus .device/) must stay under
# 64 MiB; this script fails above PACK_LIMIT_MIB (default 60) and prints the packed size.
#   usage: scripts/device/pack.sh            (PACK_RUNTIME=/path/to/pack-dotnet-runtime.sh to override the tool)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dev="$root/.device"
log() { printf '[pack.sh] %s\n' "$*" >&2; }
die() { printf 'pack.sh: %s\n' "$*" >&2; exit 2; }
train=${PACK_TRAIN:-10000}; test=${PACK_TEST:-2000}; limit=${PACK_LIMIT_MIB:-60}
[[ $train =~ ^[0-9]+$ && $test =~ ^[0-9]+$ && $limit =~ ^[0-9]+$ ]] || die "PACK_TRAIN, PACK_TEST and PACK_LIMIT_MIB must be whole numbers"

tool=${PACK_RUNTIME:-}
if [ -z "$tool" ]; then
  for t in "$root/../shared/tools/pack-dotnet-runtime.sh" "$root/../../shared/tools/pack-dotnet-runtime.sh" /work/shared/tools/pack-dotnet-runtime.sh; do
    [ -x "$t" ] && { tool=$t; break; }
  done
fi
[ -n "$tool" ] || die "pack-dotnet-runtime.sh not found (looked in ../shared/tools and /work/shared/tools); set PACK_RUNTIME"
git check-ignore -q .device/ || die ".device/ is not git-ignored: add it to .gitignore first"
rm -rf "$dev"
mkdir -p "$dev" "$root/.build/device"
log "dotnet publish src/CudaAdam.Cli (Release, framework-dependent) -> .device/app"
# CudaAdamNativeRuntimes (Directory.Build.targets): only linux-x64's native package assets (SkiaSharp for the plots).
dotnet publish src/CudaAdam.Cli/CudaAdam.Cli.csproj -c Release -o "$dev/app" --nologo -v q -p:UseAppHost=false \
  -p:CudaAdamNativeRuntimes=linux-x64 >&2
# The host emulator library is useless there (the GPU runs the kernels); symbols and XML docs only add weight.
rm -f "$dev/app/libcudaadam_emu.so" "$dev/app"/*.pdb "$dev/app"/*.xml

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime_version=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | sort -V | tail -1)
cached="$root/.build/device/dotnet-runtime-$runtime_version.tar.xz"
if [ ! -f "$cached" ]; then
  log "packing the .NET runtime $runtime_version with $tool"
  "$tool" "$cached.tmp" >&2 && mv "$cached.tmp" "$cached"
fi
cp "$cached" "$dev/dotnet-runtime.tar.xz"

# The train stage's data (run-on-gpu.sh train): the first images of Debian's dataset-fashion-mnist, re-gzipped.
fm=/usr/share/datasets/fashion-mnist
if [ "${PACK_DATA:-1}" != 0 ] && [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  log "cutting the first $train/$test Fashion-MNIST images into .device/fmnist"
  mkdir -p "$dev/fmnist"
  /usr/bin/python3 - "$fm" "$dev/fmnist" "$train" "$test" <<'PY'
import gzip, struct, os, sys
src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for prefix, count in (("train", ntrain), ("t10k", ntest)):
    for kind, header_len in (("images-idx3", 16), ("labels-idx1", 8)):
        name = f"{prefix}-{kind}-ubyte.gz"
        with gzip.open(os.path.join(src, name), "rb") as f:
            data = f.read()
        magic, n = struct.unpack(">II", data[:8])
        k = min(count, n)
        item = 1 if header_len == 8 else struct.unpack(">II", data[8:16])[0] * struct.unpack(">II", data[8:16])[1]
        header = struct.pack(">II", magic, k) + data[8:header_len]
        with open(os.path.join(dst, name), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
                g.write(header + data[header_len:header_len + k * item])
PY
elif [ "${PACK_DATA:-1}" != 0 ]; then
  log "no $fm (Debian's dataset-fashion-mnist): no .device/fmnist; the train stage uses the embedded subset"
fi

# What travels: .device/ plus the working tree git would carry (tracked, and untracked files that are not ignored).
dev_kib=$(du -sk "$dev" | cut -f1)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
total_kib=$((dev_kib + tree_bytes / 1024))
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
log ".device/ is $(mib "$dev_kib") MiB ($(du -sh "$dev/app" | cut -f1) app, $(du -sh "$dev/dotnet-runtime.tar.xz" | cut -f1) runtime$([ -d "$dev/fmnist" ] && echo ", $(du -sh "$dev/fmnist" | cut -f1) data"))"
echo "packed: .device/ $(mib "$dev_kib") MiB + working tree $(mib $((tree_bytes / 1024))) MiB = $(mib "$total_kib") MiB of the 64 MiB that may travel (limit here ${limit} MiB)"
if [ "$total_kib" -gt $((limit * 1024)) ]; then
  log "too large: $(mib "$total_kib") MiB > ${limit} MiB (PACK_DATA=0 or smaller PACK_TRAIN/PACK_TEST)"; exit 1
fi
echo "$dev"
