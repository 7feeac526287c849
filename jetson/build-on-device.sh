#!/usr/bin/env bash
# Builds Pollen on a Jetson (JetPack 6, Ubuntu 22.04) against NVIDIA's PyTorch
# with CUDA, in one command:
#
#   jetson/build-on-device.sh [--arch orin|xavier|tx2|nano|tx1] [--build-dir DIR]
#                             [--cuda-tests] [--no-apt] [--jobs N]
#
#   1. checks the board: aarch64, L4T R36 (JetPack 6), NVIDIA's torch importable
#      by python3, the CUDA toolkit's nvcc;
#   2. installs the other dependencies from Ubuntu's repositories with apt
#      (gRPC, protobuf, OpenSSL, nlohmann-json, CLI11, CMake, Ninja; GoogleTest
#      with --cuda-tests); --no-apt skips this;
#   3. finds LibTorch inside the torch wheel (torch.utils.cmake_prefix_path) and
#      the GPU's CUDA architecture from /proc/device-tree (Orin 87, Xavier 72,
#      TX2 62, Nano/TX1 53; --arch overrides);
#   4. configures and builds into build-jetson/ (or --build-dir) the pollen
#      program, and with --cuda-tests the CUDA tests of the model code
#      (models_cuda_tests: device selection, copies, autocast);
#   5. runs `pollen --version` (it must say "CUDA available"), and with
#      --cuda-tests those tests on the GPU.
#
# Then install it as a service: sudo jetson/install.sh (see jetson/README.md).
#
# POLLEN_BOARD_ROOT (tests only): read the board's files (/etc/nv_tegra_release,
# /etc/os-release, /proc/device-tree, /usr/local/cuda) under this directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "build-on-device.sh: $*" >&2; exit 1; }
say() { printf '\n==== %s ====\n' "$*"; }

arch="" build="$repo/build-jetson" tests=0 apt=1 jobs=""
board=${POLLEN_BOARD_ROOT:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --arch) [[ $# -ge 2 ]] || usage; arch=$2; shift 2 ;;
    --build-dir) [[ $# -ge 2 ]] || usage; build=$2; shift 2 ;;
    --cuda-tests) tests=1; shift ;;
    --no-apt) apt=0; shift ;;
    --jobs) [[ $# -ge 2 ]] || usage; jobs=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-on-device.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

# --- 1. the board
say "board"
[[ $(uname -m) == aarch64 ]] ||
  die "this is $(uname -m), not a Jetson; to build on a workstation see toolchains/jetson.cmake"
l4t=""
if [[ -r $board/etc/nv_tegra_release ]]; then
  l4t=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/\1.\2/p' "$board/etc/nv_tegra_release")
fi
case ${l4t%%.*} in
  36) echo "L4T R$l4t (JetPack 6)" ;;
  35) die "L4T R$l4t is JetPack 5 (Ubuntu 20.04), whose packages are too old for Pollen:
  OpenSSL 1.1.1f (Pollen needs OpenSSL 3), nlohmann-json 3.7.3 (needs 3.10), gRPC 1.16
  without CMake files, no CLI11 2.x. Upgrade to JetPack 6, or run the Debian container
  (jetson/Dockerfile.debian-arm64, CPU only). See jetson/README.md." ;;
  32) die "L4T R$l4t is JetPack 4 (Ubuntu 18.04, gcc 7, glibc 2.27, OpenSSL 1.1, gRPC 1.3):
  it cannot build Pollen. See jetson/README.md for the supported JetPack versions." ;;
  "") echo "warning: no /etc/nv_tegra_release: not an L4T system? Going on as on JetPack 6." >&2 ;;
  *) echo "warning: L4T R$l4t is newer than this script knows (R36); going on." >&2 ;;
esac
if [[ -r $board/etc/os-release ]]; then
  # shellcheck disable=SC1091
  . "$board/etc/os-release"
  echo "${PRETTY_NAME:-unknown distribution}"
  [[ ${VERSION_ID:-} == 22.04 ]] ||
    echo "warning: written for Ubuntu 22.04 (JetPack 6), this is ${PRETTY_NAME:-unknown}" >&2
fi

python=$(command -v python3 || true)
[[ -n $python ]] || die "python3 is missing (it comes with JetPack)"
if ! torch_info=$("$python" - <<'EOF'
import torch, torch.utils
print(torch.utils.cmake_prefix_path)
print(torch.__version__)
print(torch.version.cuda or "")
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
print(int(torch.cuda.is_available()))
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
); then
  die "$python cannot import torch. Install NVIDIA's PyTorch wheel for your JetPack
  (https://docs.nvidia.com/deeplearning/frameworks/install-pytorch-jetson-platform/);
  a torch from PyPI has no CUDA for Jetson."
fi
{ read -r torch_prefix; read -r torch_version; read -r torch_cuda; read -r torch_abi
  read -r torch_gpu; read -r torch_gpu_name; } <<<"$torch_info"
echo "torch $torch_version (CUDA ${torch_cuda:-none}) at $torch_prefix"
[[ -f $torch_prefix/Torch/TorchConfig.cmake ]] ||
  die "no Torch/TorchConfig.cmake under $torch_prefix: this torch wheel has no LibTorch CMake package"
[[ $torch_abi == 1 ]] ||
  die "this torch was built with the old C++ ABI (_GLIBCXX_USE_CXX11_ABI=0); Ubuntu's gRPC and
  protobuf use the new one, so Pollen cannot link both. Use NVIDIA's Jetson wheel."
if [[ -z $torch_cuda ]]; then
  echo "warning: this torch has no CUDA (torch.version.cuda is None): Pollen will train on the CPU" >&2
elif [[ $torch_gpu != 1 ]]; then
  echo "warning: torch does not see the GPU (torch.cuda.is_available() is False);" \
       "is $(id -un) in the group video?" >&2
else
  echo "GPU: $torch_gpu_name"
fi

nvcc=""
if [[ -n $torch_cuda ]]; then
  for candidate in "$board/usr/local/cuda/bin/nvcc" "$(command -v nvcc || true)"; do
    if [[ -n $candidate && -x $candidate ]]; then nvcc=$candidate; break; fi
  done
  [[ -n $nvcc ]] || die "no nvcc: LibTorch's CMake package needs the CUDA toolkit
  (sudo apt-get install nvidia-jetpack, or cuda-toolkit-${torch_cuda%%.*}-${torch_cuda#*.})"
  echo "nvcc: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
fi

# --- 2. packages
if [[ $apt -eq 1 ]]; then
  say "packages (apt)"
  packages=(build-essential cmake ninja-build pkg-config
            libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
            libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev)
  [[ $tests -eq 1 ]] && packages+=(libgtest-dev)
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  # libgrpc++-dev and libcli11-dev are in "universe" (enabled on JetPack images).
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${packages[@]}"
fi

# --- 3. GPU architecture
say "configure"
if [[ -z $arch ]]; then
  compatible=""
  dt=$board/proc/device-tree
  [[ -r $dt/compatible ]] && compatible=$(tr '\0' ' ' < "$dt/compatible")
  model=""
  [[ -r $dt/model ]] && model=$(tr -d '\0' < "$dt/model")
  case "$compatible $model" in
    *tegra234*|*Orin*) arch=orin ;;
    *tegra194*|*Xavier*|*Jetson-AGX*) arch=xavier ;;
    *tegra186*|*TX2*|*quill*) arch=tx2 ;;
    *tegra210*|*Nano*|*TX1*) arch=nano ;;
    *) die "cannot tell the board from /proc/device-tree ('$model'); pass --arch orin|xavier|tx2|nano|tx1" ;;
  esac
  echo "board: ${model:-?} -> $arch"
fi
case $arch in
  orin) sm=87 ;; xavier) sm=72 ;; tx2) sm=62 ;; nano|tx1) sm=53 ;;
  *) die "unknown --arch '$arch' (orin, xavier, tx2, nano or tx1)" ;;
esac
echo "CUDA architecture: sm_$sm"

# Ubuntu 22.04's gRPC 1.30 has no CMake package; jetson/cmake provides one
# through pkg-config.
grpc_args=()
if ! ls "$board"/usr/lib/*/cmake/grpc/gRPCConfig.cmake >/dev/null 2>&1; then
  grpc_args=(-DgRPC_DIR="$here/cmake")
fi
cuda_args=()
if [[ -n $nvcc ]]; then
  cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$sm"
             -DTORCH_CUDA_ARCH_LIST="${sm:0:1}.${sm:1:1}")
fi
tests_flag=OFF
[[ $tests -eq 1 ]] && tests_flag=ON

cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DPOLLEN_PYTHON="$python" \
  -DPOLLEN_BUILD_TESTS="$tests_flag" \
  -DCMAKE_INSTALL_RPATH="$(dirname "$(dirname "$torch_prefix")")/lib" \
  -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON \
  "${grpc_args[@]}" "${cuda_args[@]}"

# --- 4. build. LibTorch's headers take 1-2 GB of memory per compiler job.
say "build"
if [[ -z $jobs ]]; then
  mem_gb=$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)
  jobs=$(( mem_gb / 2 ))
  (( jobs < 1 )) && jobs=1
  (( jobs > $(nproc) )) && jobs=$(nproc)
fi
echo "$jobs parallel jobs"
# Only what runs on the board: the whole test suite also builds the embedded
# SuperLink, whose gRPC callback server API is newer than Ubuntu 22.04's gRPC.
if [[ $tests -eq 1 ]]; then
  cmake --build "$build" -j "$jobs" --target pollen models_cuda_tests
else
  cmake --build "$build" -j "$jobs" --target pollen
fi

# --- 5. checks
say "checks"
version=$("$build/cli/pollen" --version)
echo "$version"
status=0
if [[ -n $torch_cuda ]]; then
  if grep -q "CUDA available" <<<"$version"; then
    echo "CUDA: LibTorch in pollen sees the GPU"
  else
    echo "CUDA: pollen's LibTorch does not see the GPU (see jetson/README.md, 'Is CUDA used?')" >&2
    status=1
  fi
fi
if [[ $tests -eq 1 ]]; then
  (cd "$build" && ctest --output-on-failure -R '^models_cuda_tests\.') || status=1
fi
echo
echo "built $build/cli/pollen"
echo "install as a service: sudo $here/install.sh --binary $build"
exit "$status"
