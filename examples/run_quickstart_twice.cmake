# cmake -DQUICKSTART=<evlog_quickstart> -DDATA_DIR=<dir> -DRECORDS=<n> -P run_quickstart_twice.cmake
#
# Runs the quickstart twice on a fresh DATA_DIR: the first run must find the
# directory empty, the second must read back the first run's RECORDS records
# next to its own.
foreach(var QUICKSTART DATA_DIR RECORDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${DATA_DIR}")

function(run_quickstart run expected)
  execute_process(COMMAND "${QUICKSTART}" "${DATA_DIR}" "${RECORDS}"
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  message("--- run ${run} ---\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run ${run} exited with ${rc}")
  endif()
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "run ${run} did not print '${expected}'")
  endif()
endfunction()

run_quickstart(1 "created topic orders with 3 partitions.*first run in")
run_quickstart(2 "topic orders exists.*found ${RECORDS} records from earlier runs")

file(REMOVE_RECURSE "${DATA_DIR}")
