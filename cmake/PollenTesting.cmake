# Test registration with a timeout for every test, so that a hung test fails
# in minutes with its name instead of holding CI until its hard limit.
#
#   POLLEN_TEST_TIMEOUT        seconds a test may run unless it says otherwise
#   POLLEN_TEST_TIMEOUT_SCALE  multiplies every timeout (emulated targets run
#                              slower: the aarch64 toolchain file raises it)
#
# Register tests with pollen_add_test() (any command) or pollen_test() in
# tests/CMakeLists.txt (GoogleTest programs); tests/check_timeouts.cmake,
# itself a test, fails when any registered test has no TIMEOUT.
set(POLLEN_TEST_TIMEOUT 120 CACHE STRING "Seconds a test may run unless it sets its own timeout")
if(NOT DEFINED POLLEN_TEST_TIMEOUT_SCALE)
  set(POLLEN_TEST_TIMEOUT_SCALE 1)
endif()
set(POLLEN_TEST_TIMEOUT_SCALE ${POLLEN_TEST_TIMEOUT_SCALE} CACHE STRING
    "Multiplier for every test timeout (e.g. under an emulator)")

# pollen_timeout(<out-var> [seconds]): `seconds` (default POLLEN_TEST_TIMEOUT)
# scaled by POLLEN_TEST_TIMEOUT_SCALE, rounded up to whole seconds.
function(pollen_timeout out)
  set(seconds ${POLLEN_TEST_TIMEOUT})
  if(ARGC GREATER 1 AND NOT "${ARGV1}" STREQUAL "")
    set(seconds ${ARGV1})
  endif()
  math(EXPR scaled "${seconds} * ${POLLEN_TEST_TIMEOUT_SCALE}")
  set(${out} ${scaled} PARENT_SCOPE)
endfunction()

# pollen_add_test(NAME <name> [TIMEOUT <seconds>] COMMAND ...): add_test() with
# the test's timeout set. Other properties are set with set_tests_properties()
# as usual (never TIMEOUT: pass it here, so that it is scaled).
function(pollen_add_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "" ${ARGN})
  if(NOT ARG_NAME)
    message(FATAL_ERROR "pollen_add_test: NAME is required")
  endif()
  add_test(NAME ${ARG_NAME} ${ARG_UNPARSED_ARGUMENTS})
  pollen_timeout(timeout ${ARG_TIMEOUT})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${timeout})
endfunction()
