# CudaAdam's entry point on Windows; mirrors build.sh (setup | build | test | run | bench).
# Windows has no apt: install the CUDA toolkit (NVRTC, cuBLAS) and Python with torch + scipy yourself;
# tests that need a missing piece skip and say so. The host emulator needs g++ (MSYS2/MinGW) on PATH.
param([Parameter(Position = 0)][string]$Command = 'help', [Parameter(ValueFromRemainingArguments)][string[]]$Rest)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { 'Release' }
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'; $env:DOTNET_NOLOGO = '1'

function Setup {
  if (Get-Command make -ErrorAction SilentlyContinue) { make -s -C native/emu OUT="$PSScriptRoot/.build/native" }
  else { Write-Warning 'make/g++ not found: the host emulator is not built; emulator tests skip' }
  dotnet restore CudaAdam.sln --nologo -v q; if ($LASTEXITCODE) { exit $LASTEXITCODE }
}
function Build { dotnet build CudaAdam.sln -c $Config --nologo -v q -clp:ErrorsOnly; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
function Cli { dotnet "src/CudaAdam.Cli/bin/$Config/net10.0/CudaAdam.Cli.dll" @args; exit $LASTEXITCODE }

switch ($Command) {
  'setup' { Setup }
  'build' { Setup; Build }
  'test'  { Setup; Build; dotnet test tests/CudaAdam.Tests/CudaAdam.Tests.csproj -c $Config --no-build --nologo @Rest; exit $LASTEXITCODE }
  'run'   { Setup; Build; Cli run @Rest }
  'bench' { Setup; Build; Cli bench @Rest }
  default { Write-Output 'usage: ./build.ps1 setup|build|test|run|bench'; exit 2 }
}
