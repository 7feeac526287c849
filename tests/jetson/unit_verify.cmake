# systemd-analyze verify on jetson/pollen.service, with ExecStart pointed at
# the pollen built here (verify checks that the program exists). Any line it
# prints about the unit (an unknown key, a bad value) fails the test.
#   -DUNIT=jetson/pollen.service -DPOLLEN=<built pollen> -DDIR=<scratch>
cmake_policy(VERSION 3.18)
find_program(SYSTEMD_ANALYZE systemd-analyze)
if(NOT SYSTEMD_ANALYZE)
  message("SKIPPED: systemd-analyze is not installed (Debian package systemd)")
  return()
endif()
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
file(READ ${UNIT} unit)

# What install.sh and the documentation rely on.
foreach(line
    "ExecStart=/usr/local/bin/pollen --config /etc/pollen/client.json"
    "User=pollen" "Restart=on-failure" "RestartPreventExitStatus=2" "KillSignal=SIGTERM"
    "StateDirectory=pollen" "SupplementaryGroups=video" "NoNewPrivileges=yes"
    "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes"
    "Wants=network-online.target time-sync.target"
    "After=network-online.target time-sync.target")
  string(FIND "${unit}" "\n${line}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${UNIT} has no line '${line}'")
  endif()
endforeach()
# Keys systemd 252 (Debian bookworm) does not know must stay in comments.
if(unit MATCHES "\n(RestartSteps|RestartMaxDelaySec)=")
  message(FATAL_ERROR "${UNIT} sets ${CMAKE_MATCH_1}=, which systemd < 254 ignores with a warning")
endif()

string(REPLACE "\nExecStart=/usr/local/bin/pollen " "\nExecStart=${POLLEN} " unit "${unit}")
file(WRITE ${DIR}/pollen.service "${unit}")
execute_process(COMMAND ${SYSTEMD_ANALYZE} verify ${DIR}/pollen.service
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
# systemd-analyze may also report other units of this machine; only ours count.
string(REGEX MATCHALL "[^\n]*pollen\\.service[^\n]*" ours "${out}${err}")
if(NOT rc EQUAL 0 OR ours)
  message(FATAL_ERROR "systemd-analyze verify (exit ${rc}):\n${out}${err}")
endif()
execute_process(COMMAND ${SYSTEMD_ANALYZE} --version OUTPUT_VARIABLE version)
string(REGEX MATCH "^[^\n]*" version "${version}")
message("unit: ok (${version})")
