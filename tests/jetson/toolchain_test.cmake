# toolchains/jetson.cmake against fake JetPack root file systems made here:
# a probe project (toolchain_probe/, no language enabled, so no compiler or
# real sysroot is needed) prints what the toolchain file found and set, and
# finds LibTorch and gRPC through it. Also the errors for a missing or wrong
# sysroot, an unknown or impossible POLLEN_JETSON_ARCH, a sysroot without
# LibTorch, JetPack 4, and a host protoc that does not match the sysroot.
#   -DTOOLCHAIN=<repo>/toolchains/jetson.cmake -DPROBE=<this dir>/toolchain_probe
#   -DGRPC_SHIM=<repo>/jetson/cmake -DDIR=<scratch> [-DGENERATOR=<CMake generator>]
cmake_policy(VERSION 3.18)
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})

set(r36 "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May  6 17:34:21 UTC 2024")
set(r35 "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023")
set(r32 "# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref, EABI: aarch64, DATE: Fri Jun  9 04:25:08 UTC 2023")

# The protobuf version the sysroot's headers must have to match the host's
# protoc (GOOGLE_PROTOBUF_VERSION compares by minor version, see jetson.cmake).
find_program(HOST_PROTOC protoc)
set(protobuf_match 3021012)
set(protobuf_mismatch 3012004)
if(HOST_PROTOC)
  execute_process(COMMAND ${HOST_PROTOC} --version OUTPUT_VARIABLE v)
  if(v MATCHES "libprotoc ([0-9]+)\\.([0-9]+)")
    if(CMAKE_MATCH_1 EQUAL 3)
      set(minor ${CMAKE_MATCH_2})
    else()
      set(minor ${CMAKE_MATCH_1})
    endif()
    math(EXPR protobuf_match "3000000 + ${minor} * 1000")
    if(minor EQUAL 12)
      set(protobuf_mismatch 3099000)
    endif()
  endif()
endif()

# make_sysroot(<root> [L4T line] [TORCH <site dir>] [CUDA link|dir|none]
#              [CUDA_VERSION_FILE json|txt] [PROTOBUF n] [GRPC pc|config])
function(make_sysroot root)
  cmake_parse_arguments(A "" "L4T;TORCH;CUDA;CUDA_VERSION_FILE;PROTOBUF;GRPC" "" ${ARGN})
  set(lib ${root}/usr/lib/aarch64-linux-gnu)
  file(MAKE_DIRECTORY ${lib}/tegra ${root}/lib/aarch64-linux-gnu)
  if(A_L4T)
    file(WRITE ${root}/etc/nv_tegra_release "${A_L4T}\n# KERNEL_VARIANT: oot\n")
  endif()
  if(A_TORCH)
    set(torch ${root}/${A_TORCH}/torch)
    file(WRITE ${torch}/lib/libtorch.so "")
    file(WRITE ${torch}/share/cmake/Torch/TorchConfig.cmake [=[
# Stand-in for LibTorch's package: finds its library the way the real one does.
get_filename_component(TORCH_INSTALL_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../../" ABSOLUTE)
find_library(TORCH_LIBRARY torch PATHS "${TORCH_INSTALL_PREFIX}/lib" REQUIRED)
add_library(torch INTERFACE IMPORTED)
set(TORCH_LIBRARIES torch)
set(Torch_FOUND TRUE)
]=])
  endif()
  if(A_CUDA STREQUAL "link" OR A_CUDA STREQUAL "dir")
    if(A_CUDA STREQUAL "link")
      # As on JetPack: /usr/local/cuda -> /etc/alternatives/cuda -> /usr/local/cuda-12.2
      set(cuda ${root}/usr/local/cuda-12.2)
      file(MAKE_DIRECTORY ${root}/etc/alternatives)
      file(CREATE_LINK /usr/local/cuda-12.2 ${root}/etc/alternatives/cuda SYMBOLIC)
      file(CREATE_LINK /etc/alternatives/cuda ${root}/usr/local/cuda SYMBOLIC)
    else()
      set(cuda ${root}/usr/local/cuda)
    endif()
    file(MAKE_DIRECTORY ${cuda}/targets/aarch64-linux/include ${cuda}/targets/aarch64-linux/lib)
    if(A_CUDA_VERSION_FILE STREQUAL "txt")
      file(WRITE ${cuda}/version.txt "CUDA Version 11.4.315\n")
    else()
      file(WRITE ${cuda}/version.json
        "{\n   \"cuda\" : {\n      \"name\" : \"CUDA SDK\",\n      \"version\" : \"12.2.140\"\n   },\n"
        "   \"cuda_cudart\" : {\n      \"name\" : \"CUDA Runtime (cudart)\",\n      \"version\" : \"12.2.140\"\n   }\n}\n")
    endif()
  endif()
  if(A_PROTOBUF)
    file(WRITE ${root}/usr/include/google/protobuf/stubs/common.h
         "#define GOOGLE_PROTOBUF_VERSION ${A_PROTOBUF}\n")
  endif()
  if(A_GRPC STREQUAL "config")
    file(WRITE ${lib}/cmake/grpc/gRPCConfig.cmake
         "add_library(gRPC::grpc++ INTERFACE IMPORTED)\nset(gRPC_VERSION 1.51.1)\nset(gRPC_FOUND TRUE)\n")
  else()
    # Ubuntu 22.04: gRPC 1.30.2 with pkg-config files only.
    file(WRITE ${lib}/libgrpc++.so "")
    file(WRITE ${lib}/libgrpc.so "")
    file(MAKE_DIRECTORY ${root}/usr/include/grpcpp)
    file(WRITE ${lib}/pkgconfig/grpc++.pc [=[
prefix=/usr
exec_prefix=${prefix}
includedir=${prefix}/include
libdir=${exec_prefix}/lib/aarch64-linux-gnu

Name: gRPC++
Description: C++ wrapper for gRPC
Version: 1.30.2
Cflags: -I${includedir}
Libs: -L${libdir} -lgrpc++ -lgrpc
]=])
  endif()
endfunction()

# probe(<name> <rc var> <output var> [env NAME=VALUE ...] [-- cmake args...])
function(probe name out_rc out_text)
  set(env --unset=POLLEN_SYSROOT --unset=POLLEN_JETSON_ARCH --unset=POLLEN_CUDA_COMPILER
          --unset=CUDACXX --unset=TORCH_CUDA_ARCH_LIST --unset=PKG_CONFIG_PATH)
  set(args)
  set(in_args FALSE)
  foreach(a IN LISTS ARGN)
    if(a STREQUAL "--")
      set(in_args TRUE)
    elseif(in_args)
      list(APPEND args ${a})
    else()
      list(APPEND env ${a})
    endif()
  endforeach()
  set(build ${DIR}/build-${name})
  set(generator)
  if(GENERATOR)
    set(generator -G ${GENERATOR})
  endif()
  file(REMOVE_RECURSE ${build})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env ${env}
            ${CMAKE_COMMAND} -S ${PROBE} -B ${build} ${generator} -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN} ${args}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

# expect(<output> <VAR> <value>): the probe printed PROBE VAR=value.
function(expect text var value)
  if(NOT text MATCHES "PROBE ${var}=([^\n]*)")
    message(FATAL_ERROR "the probe printed no ${var}:\n${text}")
  endif()
  if(NOT CMAKE_MATCH_1 STREQUAL "${value}")
    message(FATAL_ERROR "${var} is '${CMAKE_MATCH_1}', expected '${value}'\n${text}")
  endif()
endfunction()

function(expect_contains text var piece)
  if(NOT text MATCHES "PROBE ${var}=([^\n]*)")
    message(FATAL_ERROR "the probe printed no ${var}:\n${text}")
  endif()
  string(FIND "${CMAKE_MATCH_1}" "${piece}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${var} ('${CMAKE_MATCH_1}') does not contain '${piece}'\n${text}")
  endif()
endfunction()

function(expect_success name rc text)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: configure failed (${rc}):\n${text}")
  endif()
endfunction()

function(expect_error name rc text pattern)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name}: configure succeeded, expected an error matching '${pattern}':\n${text}")
  endif()
  string(REGEX REPLACE "[ \n]+" " " flat "${text}")  # CMake wraps long messages
  if(NOT flat MATCHES "${pattern}")
    message(FATAL_ERROR "${name}: the error does not match '${pattern}':\n${text}")
  endif()
  message("${name}: error as expected")
endfunction()

# --- JetPack 6 (L4T R36) as a board has it: torch from pip in /usr/local,
# CUDA behind the alternatives link, gRPC without a CMake package.
set(s ${DIR}/jetpack6)
make_sysroot(${s} L4T "${r36}" TORCH usr/local/lib/python3.10/dist-packages CUDA link
             PROTOBUF ${protobuf_match} GRPC pc)
probe(jetpack6 rc text -- -DPOLLEN_SYSROOT=${s} -DPOLLEN_CUDA_COMPILER=/opt/cross/bin/nvcc)
expect_success(jetpack6 ${rc} "${text}")
set(torch ${s}/usr/local/lib/python3.10/dist-packages/torch)
set(cuda ${s}/usr/local/cuda-12.2)
expect("${text}" CMAKE_SYSROOT ${s})
expect("${text}" CMAKE_SYSTEM_PROCESSOR aarch64)
expect("${text}" CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
expect("${text}" CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
expect("${text}" POLLEN_JETSON_L4T 36.3.0)
expect("${text}" POLLEN_JETSON_ARCH orin)          # the default on R36
expect("${text}" CMAKE_CUDA_ARCHITECTURES 87)
expect("${text}" TORCH_CUDA_ARCH_LIST 8.7)
expect("${text}" ENV_TORCH_CUDA_ARCH_LIST 8.7)
expect("${text}" Torch_DIR ${torch}/share/cmake/Torch)
expect("${text}" TORCH_CONFIG ${torch}/share/cmake/Torch/TorchConfig.cmake)
expect("${text}" TORCH_LIBRARY ${torch}/lib/libtorch.so)
expect("${text}" CUDAToolkit_ROOT ${cuda})
expect("${text}" CUDA_TOOLKIT_ROOT_DIR ${cuda})
expect("${text}" CUDA_TOOLKIT_TARGET_DIR ${cuda}/targets/aarch64-linux)
expect("${text}" POLLEN_JETSON_CUDA_VERSION 12.2.140)
expect("${text}" CMAKE_CUDA_COMPILER /opt/cross/bin/nvcc)
expect("${text}" gRPC_DIR ${GRPC_SHIM})
expect("${text}" GRPC_CONFIG ${GRPC_SHIM}/gRPCConfig.cmake)
expect("${text}" GRPC_VERSION 1.30.2)
expect_contains("${text}" GRPC_LIBS ${s}/usr/lib/aarch64-linux-gnu/libgrpc++.so)
expect_contains("${text}" GRPC_INCLUDES ${s}/usr/include)
foreach(dir ${s}/usr/lib/aarch64-linux-gnu/tegra ${torch}/lib ${cuda}/targets/aarch64-linux/lib)
  expect_contains("${text}" CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${dir}")
endforeach()
message("jetpack6: ok")

# --- JetPack 5 (L4T R35) on Xavier: torch in /usr/lib/python3, CUDA a plain
# directory with version.txt, gRPC with a CMake package of its own.
set(s ${DIR}/jetpack5)
make_sysroot(${s} L4T "${r35}" TORCH usr/lib/python3/dist-packages CUDA dir
             CUDA_VERSION_FILE txt PROTOBUF ${protobuf_match} GRPC config)
probe(jetpack5 rc text -- -DPOLLEN_SYSROOT=${s} -DPOLLEN_JETSON_ARCH=Xavier)
expect_success(jetpack5 ${rc} "${text}")
expect("${text}" POLLEN_JETSON_ARCH xavier)
expect("${text}" CMAKE_CUDA_ARCHITECTURES 72)
expect("${text}" TORCH_CUDA_ARCH_LIST 7.2)
expect("${text}" Torch_DIR ${s}/usr/lib/python3/dist-packages/torch/share/cmake/Torch)
expect("${text}" CUDA_TOOLKIT_ROOT_DIR ${s}/usr/local/cuda)
expect("${text}" POLLEN_JETSON_CUDA_VERSION 11.4.315)
expect("${text}" gRPC_DIR "")
expect("${text}" GRPC_CONFIG ${s}/usr/lib/aarch64-linux-gnu/cmake/grpc/gRPCConfig.cmake)
expect("${text}" GRPC_VERSION 1.51.1)
message("jetpack5: ok")

# --- Without LibTorch, POLLEN_SYSROOT and POLLEN_JETSON_ARCH from the environment.
set(s ${DIR}/notorch)
make_sysroot(${s} L4T "${r36}" CUDA none GRPC pc)
probe(notorch rc text POLLEN_SYSROOT=${s} POLLEN_JETSON_ARCH=orin -- -DPOLLEN_WITH_TORCH=OFF)
expect_success(notorch ${rc} "${text}")
expect("${text}" CMAKE_SYSROOT ${s})
expect("${text}" CMAKE_CUDA_ARCHITECTURES 87)
expect("${text}" Torch_DIR "")
expect("${text}" CUDA_TOOLKIT_ROOT_DIR "")
message("notorch: ok")

# --- Errors.
probe(no-sysroot rc text)
expect_error(no-sysroot ${rc} "${text}" "POLLEN_SYSROOT is not set")

file(MAKE_DIRECTORY ${DIR}/not-aarch64)
probe(not-aarch64 rc text -- -DPOLLEN_SYSROOT=${DIR}/not-aarch64)
expect_error(not-aarch64 ${rc} "${text}" "is not an aarch64 root file system")

probe(unknown-arch rc text -- -DPOLLEN_SYSROOT=${DIR}/jetpack6 -DPOLLEN_JETSON_ARCH=orinx)
expect_error(unknown-arch ${rc} "${text}" "unknown POLLEN_JETSON_ARCH 'orinx'. Known: orin \\(sm_87\\), xavier \\(sm_72\\)")

probe(nano-on-r36 rc text -- -DPOLLEN_SYSROOT=${DIR}/jetpack6 -DPOLLEN_JETSON_ARCH=nano)
expect_error(nano-on-r36 ${rc} "${text}" "JetPack 6\\), which runs on Orin only")

probe(r35-no-arch rc text -- -DPOLLEN_SYSROOT=${DIR}/jetpack5)
expect_error(r35-no-arch ${rc} "${text}" "set POLLEN_JETSON_ARCH to the board's GPU")

probe(no-torch rc text -- -DPOLLEN_SYSROOT=${DIR}/notorch)
expect_error(no-torch ${rc} "${text}" "no LibTorch in .*-DPOLLEN_WITH_TORCH=OFF")

set(s ${DIR}/jetpack4)
make_sysroot(${s} L4T "${r32}" GRPC pc)
probe(jetpack4 rc text -- -DPOLLEN_SYSROOT=${s} -DPOLLEN_JETSON_ARCH=nano)
expect_error(jetpack4 ${rc} "${text}" "JetPack 4, Ubuntu 18.04")

if(HOST_PROTOC)
  set(s ${DIR}/old-protobuf)
  make_sysroot(${s} L4T "${r36}" TORCH usr/local/lib/python3.10/dist-packages CUDA link
               PROTOBUF ${protobuf_mismatch} GRPC pc)
  probe(protoc-mismatch rc text -- -DPOLLEN_SYSROOT=${s})
  expect_error(protoc-mismatch ${rc} "${text}" "does not match the sysroot's protobuf headers")
  probe(protoc-mismatch-allowed rc text -- -DPOLLEN_SYSROOT=${s} -DPOLLEN_ALLOW_PROTOC_MISMATCH=ON)
  expect_success(protoc-mismatch-allowed ${rc} "${text}")
else()
  message("protoc not installed: the protoc/protobuf version check not tested")
endif()
message("toolchain: ok")
