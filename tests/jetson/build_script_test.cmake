# jetson/build-on-device.sh on a fake Jetson: uname, python3 (torch) and
# cmake/ctest are stand-ins on PATH, the board's files (L4T release, device tree,
# nvcc) live under POLLEN_BOARD_ROOT. Checks what it passes to CMake (LibTorch
# prefix, CUDA architecture, nvcc, the gRPC package) and where it stops
# (JetPack 5 and 4, old C++ ABI, no torch, no GPU in pollen, unknown --arch).
#   -DSCRIPT=<repo>/jetson/build-on-device.sh -DDIR=<scratch>
cmake_policy(VERSION 3.18)
file(REMOVE_RECURSE ${DIR})
set(bin ${DIR}/bin)
set(torch_prefix ${DIR}/site/torch/share/cmake)
file(WRITE ${torch_prefix}/Torch/TorchConfig.cmake "")

file(WRITE ${bin}/uname [=[#!/bin/sh
if [ "$1" = -m ]; then echo aarch64; else exec /bin/uname "$@"; fi
]=])
file(WRITE ${bin}/python3 [=[#!/bin/sh
cat >/dev/null
if [ -n "$FAKE_NO_TORCH" ]; then echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1; fi
printf '%s\n' "$FAKE_TORCH_PREFIX" 2.3.0 "$FAKE_TORCH_CUDA" "$FAKE_TORCH_ABI" "$FAKE_TORCH_GPU" Orin
]=])
file(WRITE ${bin}/cmake [=[#!/bin/sh
echo "cmake $*" >> "$FAKE_LOG"
if [ "$1" = --build ]; then
  mkdir -p "$2/cli"
  printf '#!/bin/sh\necho "pollen 0.1.0 (Flower protocol 1.28.0, SuperLink 1.23 to 1.28)"\necho "LibTorch 2.3.0 (%s)"\n' \
    "$FAKE_POLLEN_DEVICE" > "$2/cli/pollen"
  chmod +x "$2/cli/pollen"
fi
]=])

file(WRITE ${bin}/ctest [=[#!/bin/sh
echo "ctest $*" >> "$FAKE_LOG"
]=])

# make_board(<name> <nv_tegra_release line> <compatible> <model>)
function(make_board name release compatible model)
  set(b ${DIR}/${name})
  file(WRITE ${b}/etc/nv_tegra_release "${release}\n")
  file(WRITE ${b}/etc/os-release "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nVERSION_ID=\"22.04\"\n")
  file(MAKE_DIRECTORY ${b}/proc/device-tree)
  execute_process(COMMAND sh -c "printf '${compatible}' > '${b}/proc/device-tree/compatible'; printf '${model}\\0' > '${b}/proc/device-tree/model'")
  file(WRITE ${b}/usr/local/cuda/bin/nvcc "#!/bin/sh\necho 'Cuda compilation tools, release 12.2, V12.2.140'\n")
endfunction()
make_board(orin "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64"
           "nvidia,p3768-0000+p3767-0005\\0nvidia,p3767-0005\\0nvidia,tegra234\\0"
           "NVIDIA Jetson Orin Nano Developer Kit")
make_board(xavier "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64"
           "nvidia,p3509-0000+p3668-0001\\0nvidia,tegra194\\0" "NVIDIA Jetson Xavier NX Developer Kit")
make_board(nano "# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref, EABI: aarch64"
           "nvidia,p3449-0000-b00+p3448-0002-b00\\0nvidia,jetson-nano\\0nvidia,tegra210\\0"
           "NVIDIA Jetson Nano Developer Kit")
execute_process(COMMAND chmod +x ${bin}/uname ${bin}/python3 ${bin}/cmake ${bin}/ctest ${DIR}/orin/usr/local/cuda/bin/nvcc)

# run(<name> <board> <rc var> <output var> <cmake log var> [VAR=value ...] -- [script args])
function(run name board out_rc out_text out_log)
  set(env PATH=${bin}:/usr/bin:/bin POLLEN_BOARD_ROOT=${DIR}/${board} FAKE_LOG=${DIR}/${name}.log
          FAKE_TORCH_PREFIX=${torch_prefix} FAKE_TORCH_CUDA=12.2 FAKE_TORCH_ABI=1 FAKE_TORCH_GPU=1
          FAKE_POLLEN_DEVICE=CUDA\ available)
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
  file(REMOVE ${DIR}/${name}.log)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${env}
                          bash ${SCRIPT} --no-apt --build-dir ${DIR}/build-${name} ${args}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(log "")
  if(EXISTS ${DIR}/${name}.log)
    file(READ ${DIR}/${name}.log log)
  endif()
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
  set(${out_log} "${log}" PARENT_SCOPE)
endfunction()

function(expect_in haystack needle what)
  string(FIND "${haystack}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: no '${needle}' in:\n${haystack}")
  endif()
endfunction()

function(expect_stop name rc text pattern)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name}: the script succeeded, expected it to stop with '${pattern}':\n${text}")
  endif()
  expect_in("${text}" "${pattern}" ${name})
  message("${name}: stopped as expected")
endfunction()

# Orin on JetPack 6: the whole way through.
run(orin orin rc text log)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "orin: the script failed (${rc}):\n${text}\n${log}")
endif()
expect_in("${text}" "board: NVIDIA Jetson Orin Nano Developer Kit -> orin" orin)
expect_in("${text}" "CUDA: LibTorch in pollen sees the GPU" orin)
foreach(arg "-DCMAKE_PREFIX_PATH=${torch_prefix}" "-DCMAKE_CUDA_ARCHITECTURES=87"
            "-DTORCH_CUDA_ARCH_LIST=8.7" "-DCMAKE_CUDA_COMPILER=${DIR}/orin/usr/local/cuda/bin/nvcc"
            "-DPOLLEN_BUILD_TESTS=OFF" "-DPOLLEN_PYTHON=${bin}/python3"
            "-DCMAKE_INSTALL_RPATH=${DIR}/site/torch/lib" "-DgRPC_DIR="
            "--build ${DIR}/build-orin" "--target pollen")
  expect_in("${log}" "${arg}" "orin: cmake arguments")
endforeach()
message("orin: ok")

# --arch overrides the device tree; a CPU-only torch needs no nvcc.
run(cpu-torch orin rc text log FAKE_TORCH_CUDA= FAKE_POLLEN_DEVICE=CPU -- --arch xavier)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cpu-torch: the script failed (${rc}):\n${text}")
endif()
expect_in("${text}" "Pollen will train on the CPU" cpu-torch)
expect_in("${text}" "CUDA architecture: sm_72" cpu-torch)
string(FIND "${log}" "CMAKE_CUDA_COMPILER" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "cpu-torch: CUDA arguments without CUDA:\n${log}")
endif()
message("cpu-torch: ok")

# --cuda-tests: builds and runs the CUDA tests, not the whole suite.
run(cuda-tests orin rc text log -- --cuda-tests)
expect_in("${log}" "-DPOLLEN_BUILD_TESTS=ON" cuda-tests)
expect_in("${log}" "--target pollen models_cuda_tests" cuda-tests)
expect_in("${log}" "ctest --output-on-failure -R ^models_cuda_tests\\." cuda-tests)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cuda-tests: the script failed (${rc}):\n${text}")
endif()
message("cuda-tests: ok")

run(no-gpu orin rc text log FAKE_POLLEN_DEVICE=CPU)
expect_stop(no-gpu ${rc} "${text}" "pollen's LibTorch does not see the GPU")
run(jetpack5 xavier rc text log)
expect_stop(jetpack5 ${rc} "${text}" "L4T R35.4.1 is JetPack 5 (Ubuntu 20.04)")
run(jetpack4 nano rc text log)
expect_stop(jetpack4 ${rc} "${text}" "L4T R32.7.4 is JetPack 4")
run(old-abi orin rc text log FAKE_TORCH_ABI=0)
expect_stop(old-abi ${rc} "${text}" "old C++ ABI")
run(no-torch orin rc text log FAKE_NO_TORCH=1)
expect_stop(no-torch ${rc} "${text}" "cannot import torch")
run(bad-arch orin rc text log -- --arch pascal)
expect_stop(bad-arch ${rc} "${text}" "unknown --arch 'pascal'")
message("build script: ok")
