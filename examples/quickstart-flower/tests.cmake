# examples/quickstart-flower: no Flower server can run in CI (flwr is not
# installed), so the test runs the README's `pollen` client commands against
# the embedded server with the ServerApp's initial model and train config,
# and checks the app's Python files (ci_test.sh says what exactly).
set(quickstart_flower_dir ${CMAKE_CURRENT_LIST_DIR})
pollen_add_test(NAME example_quickstart_flower TIMEOUT 180
  COMMAND ${quickstart_flower_dir}/ci_test.sh
    --pollen $<TARGET_FILE:pollen>
    --superlink-lite $<TARGET_FILE:pollen-superlink-lite>
    --zoo ${POLLEN_ZOO_DIR}
    --python ${POLLEN_PYTHON}
    --digits ${PROJECT_SOURCE_DIR}/.cache/digits/digits.csv
    --work ${CMAKE_CURRENT_BINARY_DIR}/quickstart-flower
    --rounds 2)
set_tests_properties(example_quickstart_flower PROPERTIES LABELS torch
  PASS_REGULAR_EXPRESSION "quickstart-flower: PASS"
  SKIP_REGULAR_EXPRESSION "skipped: ")

# The ServerApp and ClientApp import flwr, so they are only compiled here.
pollen_add_test(NAME example_quickstart_flower_py_compile
  COMMAND ${POLLEN_PYTHON} -m py_compile
    ${quickstart_flower_dir}/quickstart_flower/server_app.py
    ${quickstart_flower_dir}/quickstart_flower/client_app.py
    ${quickstart_flower_dir}/quickstart_flower/task.py)
set_tests_properties(example_quickstart_flower_py_compile PROPERTIES LABELS torch
  ENVIRONMENT PYTHONPYCACHEPREFIX=${CMAKE_CURRENT_BINARY_DIR}/pycache)
