# Warnings and sanitizers for our own targets: call ew_target_options(tgt).
set(EW_WARNINGS -Wall -Wextra -Wpedantic -Wno-unused-parameter
    -Wno-missing-field-initializers)
if(EW_WERROR)
  list(APPEND EW_WARNINGS -Werror)
endif()

if(EW_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

function(ew_target_options tgt)
  target_compile_options(${tgt} PRIVATE ${EW_WARNINGS})
  target_include_directories(${tgt} PUBLIC ${CMAKE_SOURCE_DIR})
endfunction()
