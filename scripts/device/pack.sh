#!/usr/bin/env bash
# Packs what the GPU machine needs into the git-ignored folder .device/ (run HERE, on a machine with the .NET SDK):
#   .device/app/                      framework-dependent `dotnet publish` of the CLI (kernels embedded as resources)
#   .device/dotnet-runtime.tar.xz     the dotnet host + Microsoft.NETCore.App (the GPU machine has no .NET)
#   .device/fmnist/                   30,000/5,000 Fashion-MNIST images for the train step (when the dataset is installed)
# Then, with the `device` tool:  run(command="scripts/device/run-on-gpu.sh", carry=[".device"])
# The whole tree that travels must stay under 64 MiB; this script fails when .device/ alone exceeds 48 MiB.
#   usage: scripts/device/pack.sh            (PACK_RUNTIME=/path/to/pack-dotnet-runtime.sh to override the tool)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dev="$root/.device"
log() { printf '[pack.sh] %s\n' "$*" >&2; }

tool=${PACK_RUNTIME:-}
if [ -z "$tool" ]; then
  for t in "$root/../shared/tools/pack-dotnet-runtime.sh" "$root/../../shared/tools/pack-dotnet-runtime.sh" /work/shared/tools/pack-dotnet-runtime.sh; do
    [ -x "$t" ] && { tool=$t; break; }
  done
fi
[ -n "$tool" ] || { log "pack-dotnet-runtime.sh not found (looked in ../shared/tools and /work/shared/tools); set PACK_RUNTIME"; exit 1; }
mkdir -p "$dev"
git check-ignore -q .device/ || { log ".device/ is not git-ignored: add it to .gitignore first"; exit 1; }
rm -rf "$dev/app"
log "dotnet publish src/CudaAdam.Cli (Release, framework-dependent) -> .device/app"
# CudaAdamNativeRuntimes (Directory.Build.targets): only linux-x64's native package assets (SkiaSharp for the plots).
dotnet publish src/CudaAdam.Cli/CudaAdam.Cli.csproj -c Release -o "$dev/app" --nologo -v q -p:UseAppHost=false \
  -p:CudaAdamNativeRuntimes=linux-x64 >&2
# The host emulator library is useless there (the GPU runs the kernels) and only adds weight.
rm -f "$dev/app/libcudaadam_emu.so" "$dev/app"/*.pdb
if [ ! -f "$dev/dotnet-runtime.tar.xz" ] || [ "$(find "$(dirname "$(readlink -f "$(command -v dotnet)")")/shared/Microsoft.NETCore.App" -maxdepth 0 -newer "$dev/dotnet-runtime.tar.xz" 2>/dev/null)" ]; then
  log "packing the .NET runtime with $tool"
  "$tool" "$dev/dotnet-runtime.tar.xz" >&2
fi
# The training data of the side-by-side train step (run-on-gpu.sh step 8): the default job's first 30,000 training
# and 5,000 test images of Debian's dataset-fashion-mnist, re-gzipped (about 14 MiB; PACK_DATA=0 skips it, and the
# GPU machine then trains on the embedded 1,000/500-image subset).
fm=/usr/share/datasets/fashion-mnist
if [ "${PACK_DATA:-1}" != 0 ] && [ -f "$fm/train-images-idx3-ubyte.gz" ] && [ ! -f "$dev/fmnist/train-images-idx3-ubyte.gz" ]; then
  log "cutting the first 30,000/5,000 Fashion-MNIST images into .device/fmnist"
  mkdir -p "$dev/fmnist"
  /usr/bin/python3 - "$fm" "$dev/fmnist" <<'PY'
import gzip, struct, os, sys
src, dst = sys.argv[1], sys.argv[2]
for prefix, count in (("train", 30000), ("t10k", 5000)):
    for kind, header_len in (("images-idx3", 16), ("labels-idx1", 8)):
        name = f"{prefix}-{kind}-ubyte.gz"
        with gzip.open(os.path.join(src, name), "rb") as f:
            data = f.read()
        magic, n = struct.unpack(">II", data[:8])
        count = min(count, n)
        item = 1 if header_len == 8 else struct.unpack(">II", data[8:16])[0] * struct.unpack(">II", data[8:16])[1]
        header = struct.pack(">II", magic, count) + data[8:header_len]
        with open(os.path.join(dst, name), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as g:
                g.write(header + data[header_len:header_len + count * item])
PY
fi
size_kib=$(du -sk "$dev" | cut -f1)
log ".device/ is $((size_kib / 1024)) MiB ($(du -sh "$dev/app" | cut -f1) app, $(du -sh "$dev/dotnet-runtime.tar.xz" | cut -f1) runtime)"
if [ "$size_kib" -gt $((48 * 1024)) ]; then
  log "too large: the working tree that travels must stay under 64 MiB"; exit 1
fi
echo "$dev"
