# CMake toolchain file: x86_64 workstation -> NVIDIA Jetson (aarch64), against a
# JetPack root file system (a board's / copied with rsync, or NVIDIA's sample
# root file system after apply_binaries.sh) that has NVIDIA's PyTorch wheel
# installed in it. See jetson/README.md ("Cross build from a workstation").
#
#   cmake -S . -B build-jetson -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson.cmake \
#         -DPOLLEN_SYSROOT=$HOME/jetson-rootfs -DPOLLEN_JETSON_ARCH=orin
#
# Variables (cache or environment):
#   POLLEN_SYSROOT       the root file system (required)
#   POLLEN_JETSON_ARCH   orin (sm_87), xavier (sm_72), tx2 (sm_62), nano or tx1
#                        (sm_53); sets CMAKE_CUDA_ARCHITECTURES and
#                        TORCH_CUDA_ARCH_LIST. Default: orin on L4T R36
#                        (JetPack 6 runs on Orin only), required otherwise.
#   POLLEN_CUDA_COMPILER a host nvcc that can target aarch64 (NVIDIA's x86_64
#                        CUDA toolkit with its cuda-cross-aarch64 package, same
#                        version as the board's); default: $CUDACXX, else
#                        /usr/local/cuda/bin/nvcc when that toolkit has
#                        targets/aarch64-linux. The sysroot's own nvcc is an
#                        aarch64 program and cannot run here.
#   Torch_DIR            LibTorch's CMake package; default: found inside the
#                        torch wheel in the sysroot (torch/share/cmake/Torch
#                        under usr/local/lib/python3*/dist-packages,
#                        usr/lib/python3*/dist-packages or a user's
#                        ~/.local/lib/python3*/site-packages), else a
#                        distribution's LibTorch (usr/lib/aarch64-linux-gnu).
#   POLLEN_PYTHON        host Python with torch for the build-time TorchScript
#                        exports (default /usr/bin/python3).
#
# Conventions as in toolchains/aarch64-linux-gnu.cmake: aarch64-linux-gnu-gcc/g++
# as compilers, libraries, headers and CMake packages only from the sysroot,
# programs (protoc, grpc_cpp_plugin, python3) from the host, tests through
# qemu-aarch64 -L <sysroot> when qemu-user is installed.
#
# The host's protoc must have the sysroot's protobuf version (JetPack 6:
# Ubuntu 22.04's 3.12.4): generated code only compiles against the headers of
# its own release. Checked below. In practice: cross-build JetPack 6 from an
# Ubuntu 22.04 workstation (NVIDIA's supported JetPack host), where apt gives
# the same protoc and grpc_cpp_plugin as the board.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The toolchain file is read again for every try_compile project; pass our
# variables on to them, and take them from the environment when not cached.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     POLLEN_SYSROOT POLLEN_JETSON_ARCH POLLEN_CUDA_COMPILER)
foreach(_pollen_var POLLEN_SYSROOT POLLEN_JETSON_ARCH POLLEN_CUDA_COMPILER)
  if(NOT ${_pollen_var} AND DEFINED ENV{${_pollen_var}})
    set(${_pollen_var} "$ENV{${_pollen_var}}")
  endif()
endforeach()
get_property(_pollen_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)

if(NOT POLLEN_SYSROOT)
  message(FATAL_ERROR
    "jetson.cmake: POLLEN_SYSROOT is not set. Copy the board's root file system "
    "(with NVIDIA's PyTorch installed), e.g.\n"
    "  sudo rsync -a --rsync-path='sudo rsync' --exclude={/proc,/sys,/dev,/run,/tmp,/home} user@jetson:/ $HOME/jetson-rootfs/\n"
    "and configure with -DPOLLEN_SYSROOT=$HOME/jetson-rootfs (or export POLLEN_SYSROOT). "
    "See jetson/README.md.")
endif()
get_filename_component(POLLEN_SYSROOT "${POLLEN_SYSROOT}" ABSOLUTE)
if(NOT EXISTS "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR
    "jetson.cmake: POLLEN_SYSROOT=${POLLEN_SYSROOT} is not an aarch64 root file system "
    "(no usr/lib/aarch64-linux-gnu).")
endif()
set(POLLEN_SYSROOT "${POLLEN_SYSROOT}" CACHE PATH "Root of the Jetson's file system")

# Resolves a path inside the sysroot, following symbolic links the way the
# board would: absolute link targets (/usr/local/cuda -> /etc/alternatives/cuda
# -> /usr/local/cuda-12.2 on JetPack) are taken relative to the sysroot.
function(_pollen_sysroot_resolve path out)
  set(p "${path}")
  foreach(_hop RANGE 16)
    if(NOT IS_SYMLINK "${p}")
      break()
    endif()
    file(READ_SYMLINK "${p}" target)
    if(IS_ABSOLUTE "${target}")
      set(p "${POLLEN_SYSROOT}${target}")
    else()
      get_filename_component(dir "${p}" DIRECTORY)
      set(p "${dir}/${target}")
    endif()
  endforeach()
  get_filename_component(p "${p}" ABSOLUTE)
  set(${out} "${p}" PARENT_SCOPE)
endfunction()

# --- L4T release (etc/nv_tegra_release: "# R36 (release), REVISION: 3.0, ...")
set(_pollen_l4t "")
if(EXISTS "${POLLEN_SYSROOT}/etc/nv_tegra_release")
  file(STRINGS "${POLLEN_SYSROOT}/etc/nv_tegra_release" _pollen_l4t_line
       REGEX "^# R[0-9]+" LIMIT_COUNT 1)
  if(_pollen_l4t_line MATCHES "^# R([0-9]+)[^,]*, REVISION: ([0-9.]+)")
    set(_pollen_l4t "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
    set(_pollen_l4t_major "${CMAKE_MATCH_1}")
  endif()
endif()
set(POLLEN_JETSON_L4T "${_pollen_l4t}" CACHE INTERNAL "L4T release of the sysroot")
if(_pollen_l4t AND _pollen_l4t_major LESS 35)
  message(FATAL_ERROR
    "jetson.cmake: the sysroot is L4T R${_pollen_l4t} (JetPack 4, Ubuntu 18.04): its "
    "gcc 7, glibc 2.27, OpenSSL 1.1 and gRPC 1.3 cannot build Pollen. See "
    "jetson/README.md for the supported JetPack versions.")
endif()

# --- GPU architecture
if(NOT POLLEN_JETSON_ARCH)
  if(_pollen_l4t_major EQUAL 36)
    set(POLLEN_JETSON_ARCH orin)
  else()
    message(FATAL_ERROR
      "jetson.cmake: set POLLEN_JETSON_ARCH to the board's GPU: orin (sm_87), "
      "xavier (sm_72), tx2 (sm_62), nano or tx1 (sm_53).")
  endif()
endif()
string(TOLOWER "${POLLEN_JETSON_ARCH}" _pollen_arch)
if(_pollen_arch STREQUAL "orin")
  set(_pollen_sm 87)
elseif(_pollen_arch STREQUAL "xavier")
  set(_pollen_sm 72)
elseif(_pollen_arch STREQUAL "tx2")
  set(_pollen_sm 62)
elseif(_pollen_arch STREQUAL "nano" OR _pollen_arch STREQUAL "tx1")
  set(_pollen_sm 53)
else()
  message(FATAL_ERROR
    "jetson.cmake: unknown POLLEN_JETSON_ARCH '${POLLEN_JETSON_ARCH}'. Known: "
    "orin (sm_87), xavier (sm_72), tx2 (sm_62), nano or tx1 (sm_53).")
endif()
if(_pollen_l4t_major EQUAL 36 AND NOT _pollen_sm EQUAL 87)
  message(FATAL_ERROR
    "jetson.cmake: POLLEN_JETSON_ARCH=${POLLEN_JETSON_ARCH}, but the sysroot is "
    "L4T R${_pollen_l4t} (JetPack 6), which runs on Orin only.")
endif()
if(_pollen_l4t_major EQUAL 35 AND _pollen_sm LESS 72)
  message(FATAL_ERROR
    "jetson.cmake: POLLEN_JETSON_ARCH=${POLLEN_JETSON_ARCH}, but the sysroot is "
    "L4T R${_pollen_l4t} (JetPack 5), which runs on Orin and Xavier only.")
endif()
set(POLLEN_JETSON_ARCH "${_pollen_arch}" CACHE STRING
    "Jetson GPU: orin, xavier, tx2, nano or tx1" FORCE)
set(CMAKE_CUDA_ARCHITECTURES "${_pollen_sm}" CACHE STRING
    "CUDA architecture of the Jetson's GPU (from POLLEN_JETSON_ARCH)" FORCE)
# LibTorch's CMake package picks its nvcc -gencode flags from this instead of
# probing a GPU (there is none on the build machine).
string(REGEX REPLACE "^([0-9])([0-9])$" "\\1.\\2" _pollen_torch_arch "${_pollen_sm}")
set(TORCH_CUDA_ARCH_LIST "${_pollen_torch_arch}" CACHE STRING
    "CUDA architectures for LibTorch's CMake package" FORCE)
set(ENV{TORCH_CUDA_ARCH_LIST} "${_pollen_torch_arch}")

# --- Compilers and search roots
if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
endif()

set(CMAKE_SYSROOT "${POLLEN_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${POLLEN_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${POLLEN_SYSROOT}")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_LIBDIR}
    "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${POLLEN_SYSROOT}/usr/lib/pkgconfig:${POLLEN_SYSROOT}/usr/share/pkgconfig")

# --- LibTorch inside NVIDIA's torch wheel
set(_pollen_rpath_dirs
  "${POLLEN_SYSROOT}/lib/aarch64-linux-gnu"
  "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu"
  "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/tegra")   # libcuda.so and the driver's libraries
set(_pollen_torch_report "not used (POLLEN_WITH_TORCH=OFF)")
# (Not in try_compile projects: they do not use LibTorch and do not get
# POLLEN_WITH_TORCH.)
if(_pollen_in_try_compile)
  set(_pollen_torch_report "")
elseif(NOT DEFINED POLLEN_WITH_TORCH OR POLLEN_WITH_TORCH)
  if(NOT Torch_DIR)
    file(GLOB _pollen_torch_configs LIST_DIRECTORIES false
      "${POLLEN_SYSROOT}/usr/local/lib/python3*/dist-packages/torch/share/cmake/Torch/TorchConfig.cmake"
      "${POLLEN_SYSROOT}/usr/lib/python3*/dist-packages/torch/share/cmake/Torch/TorchConfig.cmake"
      "${POLLEN_SYSROOT}/usr/local/lib/python3*/site-packages/torch/share/cmake/Torch/TorchConfig.cmake"
      "${POLLEN_SYSROOT}/home/*/.local/lib/python3*/site-packages/torch/share/cmake/Torch/TorchConfig.cmake"
      # a distribution's LibTorch (Debian's libtorch-dev), CPU only
      "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake")
    if(NOT _pollen_torch_configs)
      message(FATAL_ERROR
        "jetson.cmake: no LibTorch in ${POLLEN_SYSROOT}: searched torch/share/cmake/Torch "
        "under usr/local/lib/python3*/dist-packages, usr/lib/python3*/dist-packages, "
        "usr/local/lib/python3*/site-packages, home/*/.local/lib/python3*/site-packages and "
        "usr/lib/aarch64-linux-gnu/cmake/Torch. "
        "Install NVIDIA's PyTorch wheel for this JetPack on the board before copying its "
        "file system, or pass -DTorch_DIR=<sysroot>/.../torch/share/cmake/Torch, or build "
        "without LibTorch (-DPOLLEN_WITH_TORCH=OFF).")
    endif()
    list(GET _pollen_torch_configs 0 _pollen_torch_config)
    list(LENGTH _pollen_torch_configs _pollen_torch_count)
    if(_pollen_torch_count GREATER 1 AND NOT _pollen_in_try_compile)
      message(STATUS "jetson.cmake: ${_pollen_torch_count} torch installations in the sysroot; "
                     "using the first (set Torch_DIR to choose): ${_pollen_torch_configs}")
    endif()
    get_filename_component(_pollen_torch_dir "${_pollen_torch_config}" DIRECTORY)
    set(Torch_DIR "${_pollen_torch_dir}" CACHE PATH "LibTorch's CMake package (in the sysroot)")
  endif()
  get_filename_component(POLLEN_JETSON_TORCH_ROOT "${Torch_DIR}/../../.." ABSOLUTE)
  list(APPEND _pollen_rpath_dirs "${POLLEN_JETSON_TORCH_ROOT}/lib")
  set(_pollen_torch_report "${Torch_DIR}")
endif()

# --- CUDA toolkit in the sysroot (usr/local/cuda)
set(_pollen_cuda_report "none in the sysroot")
_pollen_sysroot_resolve("${POLLEN_SYSROOT}/usr/local/cuda" _pollen_cuda_root)
if(EXISTS "${_pollen_cuda_root}/targets/aarch64-linux")
  set(POLLEN_JETSON_CUDA_ROOT "${_pollen_cuda_root}" CACHE INTERNAL "CUDA toolkit in the sysroot")
  set(_pollen_cuda_version "")
  if(EXISTS "${_pollen_cuda_root}/version.json")
    file(READ "${_pollen_cuda_root}/version.json" _pollen_json)
    if(_pollen_json MATCHES "\"cuda\"[^}]*\"version\"[ \t\r\n]*:[ \t\r\n]*\"([0-9.]+)\"")
      set(_pollen_cuda_version "${CMAKE_MATCH_1}")
    endif()
  elseif(EXISTS "${_pollen_cuda_root}/version.txt")
    file(READ "${_pollen_cuda_root}/version.txt" _pollen_txt)
    if(_pollen_txt MATCHES "CUDA Version ([0-9.]+)")
      set(_pollen_cuda_version "${CMAKE_MATCH_1}")
    endif()
  endif()
  set(POLLEN_JETSON_CUDA_VERSION "${_pollen_cuda_version}" CACHE INTERNAL "CUDA version of the sysroot")
  # FindCUDAToolkit (CMake), FindCUDA (used by older LibTorch packages) and
  # the CUDA language all look here for the target's headers and libraries.
  set(CUDAToolkit_ROOT "${_pollen_cuda_root}")
  set(CUDA_TOOLKIT_ROOT_DIR "${_pollen_cuda_root}" CACHE PATH "CUDA toolkit (in the sysroot)")
  set(CUDA_TOOLKIT_TARGET_DIR "${_pollen_cuda_root}/targets/aarch64-linux" CACHE PATH
      "CUDA toolkit's aarch64 target directory (in the sysroot)")
  list(APPEND _pollen_rpath_dirs "${_pollen_cuda_root}/targets/aarch64-linux/lib")
  set(_pollen_cuda_report "${_pollen_cuda_version} at ${_pollen_cuda_root}")

  # A host nvcc that can compile for aarch64, for LibTorch's CMake package
  # (it enables the CUDA language).
  if(NOT POLLEN_CUDA_COMPILER AND DEFINED ENV{CUDACXX})
    set(POLLEN_CUDA_COMPILER "$ENV{CUDACXX}")
  endif()
  if(NOT POLLEN_CUDA_COMPILER AND EXISTS "/usr/local/cuda/targets/aarch64-linux"
     AND EXISTS "/usr/local/cuda/bin/nvcc")
    set(POLLEN_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  if(POLLEN_CUDA_COMPILER)
    set(CMAKE_CUDA_COMPILER "${POLLEN_CUDA_COMPILER}")
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}")
    set(CMAKE_CUDA_FLAGS_INIT "--target-directory aarch64-linux")
    string(APPEND _pollen_cuda_report ", host nvcc ${POLLEN_CUDA_COMPILER}")
  else()
    string(APPEND _pollen_cuda_report ", no host nvcc for aarch64 (POLLEN_CUDA_COMPILER)")
  endif()
endif()

# --- gRPC: Ubuntu 22.04's gRPC has no CMake package; use pkg-config's.
if(NOT gRPC_DIR AND NOT EXISTS "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/cmake/grpc/gRPCConfig.cmake")
  get_filename_component(_pollen_grpc_shim "${CMAKE_CURRENT_LIST_DIR}/../jetson/cmake" ABSOLUTE)
  set(gRPC_DIR "${_pollen_grpc_shim}" CACHE PATH "gRPC's CMake package")
endif()
if(gRPC_DIR)
  set(_pollen_grpc_report "${gRPC_DIR}")
else()
  set(_pollen_grpc_report "the sysroot's CMake package")
endif()

# --- The host's protoc must match the sysroot's protobuf headers.
if(NOT _pollen_in_try_compile)
  set(_pollen_pb_header "${POLLEN_SYSROOT}/usr/include/google/protobuf/stubs/common.h")
  if(EXISTS "${_pollen_pb_header}")
    file(STRINGS "${_pollen_pb_header}" _pollen_pb_line
         REGEX "^#define GOOGLE_PROTOBUF_VERSION [0-9]+" LIMIT_COUNT 1)
    find_program(POLLEN_PROTOC protoc NO_CMAKE_FIND_ROOT_PATH)
    if(_pollen_pb_line MATCHES "([0-9]+)$" AND POLLEN_PROTOC)
      set(_pollen_pb_version "${CMAKE_MATCH_1}")
      math(EXPR _pollen_pb_minor "(${_pollen_pb_version} / 1000) % 1000")
      execute_process(COMMAND "${POLLEN_PROTOC}" --version
                      OUTPUT_VARIABLE _pollen_protoc_out ERROR_QUIET)
      # protoc 3.x prints "libprotoc 3.MINOR.PATCH"; from 22 on "libprotoc MINOR.PATCH"
      # while the headers keep 3/4/5 as the major number.
      if(_pollen_protoc_out MATCHES "libprotoc ([0-9]+)\\.([0-9]+)")
        if(CMAKE_MATCH_1 EQUAL 3)
          set(_pollen_protoc_minor "${CMAKE_MATCH_2}")
        else()
          set(_pollen_protoc_minor "${CMAKE_MATCH_1}")
        endif()
        if(NOT _pollen_protoc_minor EQUAL _pollen_pb_minor AND NOT POLLEN_ALLOW_PROTOC_MISMATCH)
          string(STRIP "${_pollen_protoc_out}" _pollen_protoc_out)
          message(FATAL_ERROR
            "jetson.cmake: the host's protoc (${POLLEN_PROTOC}: ${_pollen_protoc_out}) does not "
            "match the sysroot's protobuf headers (GOOGLE_PROTOBUF_VERSION ${_pollen_pb_version}); "
            "the generated code would not compile. Use a protoc and grpc_cpp_plugin of the "
            "board's release: on an Ubuntu 22.04 workstation apt's protobuf-compiler and "
            "protobuf-compiler-grpc match JetPack 6, or pass -DPOLLEN_PROTOC=... and "
            "-DPOLLEN_GRPC_CPP_PLUGIN=... (-DPOLLEN_ALLOW_PROTOC_MISMATCH=ON skips this check).")
        endif()
      endif()
    endif()
  endif()
endif()

# --- Linking: LibTorch, CUDA and the Tegra driver libraries need a long chain
# of others; the linker finds them in the sysroot through -rpath-link.
set(_pollen_rpath_link "")
foreach(_pollen_dir IN LISTS _pollen_rpath_dirs)
  string(APPEND _pollen_rpath_link " -Wl,-rpath-link,${_pollen_dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_pollen_rpath_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_pollen_rpath_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_pollen_rpath_link}")

# Host Python for build-time exports (TorchScript models, .npz files).
if(NOT POLLEN_PYTHON)
  set(POLLEN_PYTHON /usr/bin/python3 CACHE FILEPATH
      "Python with torch, used at build time to export TorchScript test models")
endif()

# Tests run through qemu-user (CPU only: the GPU is not there).
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(POLLEN_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static NO_CMAKE_FIND_ROOT_PATH)
  if(POLLEN_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${POLLEN_QEMU_AARCH64};-L;${POLLEN_SYSROOT}")
  endif()
endif()

# CMake reads a toolchain file twice on the first configure; report once.
get_property(_pollen_reported GLOBAL PROPERTY _POLLEN_JETSON_REPORTED)
if(NOT _pollen_in_try_compile AND NOT _pollen_reported)
  set_property(GLOBAL PROPERTY _POLLEN_JETSON_REPORTED TRUE)
  set(_pollen_l4t_text "L4T ${POLLEN_JETSON_L4T}")
  if(NOT POLLEN_JETSON_L4T)
    set(_pollen_l4t_text "no etc/nv_tegra_release")
  endif()
  message(STATUS "jetson.cmake: sysroot ${POLLEN_SYSROOT} (${_pollen_l4t_text}), "
                 "${POLLEN_JETSON_ARCH} (sm_${_pollen_sm})")
  message(STATUS "jetson.cmake: LibTorch ${_pollen_torch_report}")
  message(STATUS "jetson.cmake: CUDA ${_pollen_cuda_report}")
  message(STATUS "jetson.cmake: gRPC from ${_pollen_grpc_report}")
endif()
