# custom-client: installs Pollen into a scratch prefix, builds the example
# against it with find_package(Pollen), and runs sensor-node (2 rounds) and
# stats-node (1 round) against pollen-superlink-lite.
pollen_add_test(NAME custom_client TIMEOUT 300
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/ci_test.sh
    --build-dir ${PROJECT_BINARY_DIR}
    --scratch ${CMAKE_CURRENT_BINARY_DIR}/custom-client
    --superlink-lite $<TARGET_FILE:pollen-superlink-lite>
    --python "${POLLEN_PYTHON}"
    --generator "${CMAKE_GENERATOR}"
    --build-type "${CMAKE_BUILD_TYPE}")
set_tests_properties(custom_client PROPERTIES LABELS "install;slow;torch"
  PASS_REGULAR_EXPRESSION "custom_client: ok")
