# CMake toolchain file: Debian bookworm host -> aarch64-linux-gnu, against a
# sysroot of the target's libraries (scripts/make-sysroot.sh aarch64 makes one
# from Debian's arm64 packages; a board's own root file system works too).
#
#   cmake -S . -B build-aarch64 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
#         -DPOLLEN_SYSROOT=$PWD/.cache/sysroot-aarch64
#
# POLLEN_SYSROOT may also come from the environment. Compilers:
# aarch64-linux-gnu-gcc/g++ (Debian's g++-aarch64-linux-gnu); override with
# -DCMAKE_CXX_COMPILER=... as usual. Code generators run on the host:
# protoc and grpc_cpp_plugin from PATH, and POLLEN_PYTHON (default
# /usr/bin/python3, with torch and numpy) exports the TorchScript test models;
# TorchScript and .npz files do not depend on the architecture. When
# qemu-aarch64 (Debian's qemu-user) is installed, ctest and test discovery run
# the aarch64 programs through `qemu-aarch64 -L <sysroot>`.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The toolchain file is read again for every try_compile project; pass the
# sysroot on to them, and take it from the environment when not in the cache.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES POLLEN_SYSROOT)
if(NOT POLLEN_SYSROOT AND DEFINED ENV{POLLEN_SYSROOT})
  set(POLLEN_SYSROOT "$ENV{POLLEN_SYSROOT}")
endif()
if(NOT POLLEN_SYSROOT)
  message(FATAL_ERROR
    "aarch64-linux-gnu.cmake: POLLEN_SYSROOT is not set. Make a sysroot with\n"
    "  scripts/make-sysroot.sh aarch64\n"
    "and configure with -DPOLLEN_SYSROOT=<repo>/.cache/sysroot-aarch64 "
    "(or export POLLEN_SYSROOT), or use scripts/cross-build.sh aarch64.")
endif()
get_filename_component(POLLEN_SYSROOT "${POLLEN_SYSROOT}" ABSOLUTE)
if(NOT EXISTS "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR
    "aarch64-linux-gnu.cmake: POLLEN_SYSROOT=${POLLEN_SYSROOT} is not an aarch64 sysroot "
    "(no usr/lib/aarch64-linux-gnu); scripts/make-sysroot.sh aarch64 makes one.")
endif()
set(POLLEN_SYSROOT "${POLLEN_SYSROOT}" CACHE PATH "Root of the aarch64 target's libraries")

if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
endif()

set(CMAKE_SYSROOT "${POLLEN_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${POLLEN_SYSROOT}")
# Programs (protoc, grpc_cpp_plugin, python3, ssh-keygen) are the host's;
# libraries, headers and CMake packages only ever come from the sysroot.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${POLLEN_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${POLLEN_SYSROOT}/usr/share/pkgconfig")

# LibTorch's shared libraries need a long chain of others (OpenCV, FFmpeg,
# BLAS, ...); the linker finds them in the sysroot through -rpath-link.
string(CONCAT _pollen_rpath_link
  " -Wl,-rpath-link,${POLLEN_SYSROOT}/lib/aarch64-linux-gnu"
  " -Wl,-rpath-link,${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu"
  " -Wl,-rpath-link,${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/blas"
  " -Wl,-rpath-link,${POLLEN_SYSROOT}/usr/lib/aarch64-linux-gnu/lapack")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_pollen_rpath_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_pollen_rpath_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_pollen_rpath_link}")

# Host Python for build-time exports (TorchScript models, .npz files).
if(NOT POLLEN_PYTHON)
  set(POLLEN_PYTHON /usr/bin/python3 CACHE FILEPATH
      "Python with torch, used at build time to export TorchScript test models")
endif()

# Run the aarch64 programs (ctest, gtest_discover_tests) through qemu-user;
# binfmt_misc is not needed. -L makes qemu load the sysroot's dynamic loader
# and libraries.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(POLLEN_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
  if(POLLEN_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${POLLEN_QEMU_AARCH64};-L;${POLLEN_SYSROOT}")
  endif()
endif()
# Emulated, a test runs several times slower: every test timeout is scaled
# (cmake/PollenTesting.cmake).
if(CMAKE_CROSSCOMPILING_EMULATOR AND NOT DEFINED POLLEN_TEST_TIMEOUT_SCALE)
  set(POLLEN_TEST_TIMEOUT_SCALE 4 CACHE STRING
      "Multiplier for every test timeout (e.g. under an emulator)")
endif()
