# Generate the kernel catalog from src/catalog/catalog.py at configure time.
# MIXGEMM_KERNELS filters entries by glob (e.g. "cutlass_s4_f16_*") for quick development builds.
set(MIXGEMM_GENERATED_DIR "${CMAKE_CURRENT_BINARY_DIR}/generated")
set(_gen "${CMAKE_CURRENT_SOURCE_DIR}/src/catalog/generate.py")
execute_process(
  COMMAND "${Python_EXECUTABLE}" "${_gen}" --out "${MIXGEMM_GENERATED_DIR}" --kernels "${MIXGEMM_KERNELS}"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "mixgemm: catalog generation failed:\n${_out}\n${_err}")
endif()
message(STATUS "${_out}")
include("${MIXGEMM_GENERATED_DIR}/sources.cmake")
# Re-run configure when the catalog definition changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${CMAKE_CURRENT_SOURCE_DIR}/src/catalog/catalog.py" "${_gen}")
