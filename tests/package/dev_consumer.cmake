# ctest script: unpacks pollen and libpollen-dev into one scratch root (dpkg -x, as apt
# would install them under /), then configures, builds and runs tests/install/consumer
# against that root's CMake package only.
cmake_minimum_required(VERSION 3.19)
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH}/root)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  message("${out}")
endfunction()

file(GLOB debs ${DEBS}/pollen_${VERSION}_*.deb ${DEBS}/libpollen-dev_${VERSION}_*.deb)
list(LENGTH debs n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "expected pollen and libpollen-dev ${VERSION} in ${DEBS}, found: ${debs}")
endif()
foreach(deb IN LISTS debs)
  run(dpkg -x ${deb} ${SCRATCH}/root)
endforeach()

run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${SCRATCH}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX}
    -DPollen_DIR=${SCRATCH}/root/usr/lib/cmake/Pollen)
run(${CMAKE_COMMAND} --build ${SCRATCH}/build)
run(${SCRATCH}/build/consumer)
