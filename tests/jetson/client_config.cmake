# jetson/client.json.example: its keys are pollen's flags (pollen exits 2 on an
# unknown key or a bad value), and its state-dir is the unit's StateDirectory.
#   -DPOLLEN=<built pollen> -DCONFIG=<repo>/jetson/client.json.example
#   -DUNIT=<repo>/jetson/pollen.service
cmake_policy(VERSION 3.18)
file(READ ${CONFIG} json)
string(JSON state_dir ERROR_VARIABLE json_error GET "${json}" state-dir)
if(json_error OR NOT state_dir STREQUAL "/var/lib/pollen")
  message(FATAL_ERROR "${CONFIG}: state-dir must be /var/lib/pollen (StateDirectory=pollen): '${state_dir}' ${json_error}")
endif()
file(READ ${UNIT} unit)
if(NOT unit MATCHES "\nStateDirectory=pollen\n")
  message(FATAL_ERROR "${UNIT} has no StateDirectory=pollen")
endif()
# --max-retries 0: should it get as far as connecting, it gives up at once.
execute_process(COMMAND ${POLLEN} --config ${CONFIG} --max-retries 0
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(rc EQUAL 2 OR "${out}${err}" MATCHES "--config")
  message(FATAL_ERROR "pollen rejected ${CONFIG} (exit ${rc}):\n${out}${err}")
endif()
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "expected exit 1 (no model file here), got ${rc}:\n${out}${err}")
endif()
message("client config: ok (${err})")
