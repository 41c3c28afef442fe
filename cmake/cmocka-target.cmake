# Debian's cmocka 1.1.5 package config sets CMOCKA_LIBRARY/CMOCKA_INCLUDE_DIR
# but defines no imported target; cmocka 2.x defines cmocka::cmocka. Give
# both the same name.
if(cmocka_FOUND AND NOT TARGET cmocka::cmocka)
  if(TARGET cmocka)
    add_library(cmocka::cmocka ALIAS cmocka)
  elseif(CMOCKA_LIBRARY)
    add_library(cmocka::cmocka UNKNOWN IMPORTED GLOBAL)
    set_target_properties(cmocka::cmocka PROPERTIES
      IMPORTED_LOCATION "${CMOCKA_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_INCLUDE_DIR}")
  endif()
endif()
