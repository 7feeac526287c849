# examples/fine-tune-head: run.sh as the README shows it, on this build (two
# federations of 2 clients x 2 rounds on the embedded server, then its checks).
pollen_add_test(NAME example_fine_tune_head TIMEOUT 300
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/run.sh
    --build-dir ${PROJECT_BINARY_DIR}
    --pollen $<TARGET_FILE:pollen>
    --superlink-lite $<TARGET_FILE:pollen-superlink-lite>
    --python ${POLLEN_PYTHON}
    --digits ${PROJECT_SOURCE_DIR}/.cache/digits/digits.csv
    --work ${CMAKE_CURRENT_BINARY_DIR}/fine-tune-head
    --rounds 2)
set_tests_properties(example_fine_tune_head PROPERTIES LABELS torch
  PASS_REGULAR_EXPRESSION "fine-tune-head: PASS"
  SKIP_REGULAR_EXPRESSION "skipped: ")
