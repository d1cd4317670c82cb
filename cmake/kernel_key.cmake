# Writes the stamp of the sources one kernel file is built from, the one PrebuiltKernels.SourceKey computes: SHA-256 (hex)
# of "pixelllm-aot-v1\n", then "<name> <SHA-256 of its bytes>\n" for the .cu file and for every kernels/*.cuh sorted by
# name. The engine loads a prebuilt CUBIN only when the stamp next to it equals the stamp of the sources it embeds.
# Usage: cmake -DSOURCE=kernels/softmax.cu -DKERNEL_DIR=kernels -DOUTPUT=build/kernels/sm_90/softmax.cubin.key -P cmake/kernel_key.cmake
cmake_minimum_required(VERSION 3.18)
foreach(required SOURCE KERNEL_DIR OUTPUT)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "kernel_key.cmake: -D${required}=... is required")
  endif()
endforeach()

get_filename_component(name "${SOURCE}" NAME)
file(SHA256 "${SOURCE}" hash)
set(text "pixelllm-aot-v1\n${name} ${hash}\n")
file(GLOB headers RELATIVE "${KERNEL_DIR}" "${KERNEL_DIR}/*.cuh")
list(SORT headers)
foreach(header IN LISTS headers)
  file(SHA256 "${KERNEL_DIR}/${header}" hash)
  string(APPEND text "${header} ${hash}\n")
endforeach()
string(SHA256 key "${text}")
file(WRITE "${OUTPUT}" "${key}\n")
