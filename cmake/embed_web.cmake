# Embeds every file under web/ into a generated C++ source (web_assets.cpp) that the server
# links, so the chat page works offline with no files next to the binary.
file(GLOB_RECURSE WHALE_WEB_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/web/*)
list(FILTER WHALE_WEB_FILES EXCLUDE REGEX "/(node_modules|tests?)/|package(-lock)?\\.json$")
set(WHALE_WEB_CPP ${CMAKE_BINARY_DIR}/generated/web_assets.cpp)
add_custom_command(
  OUTPUT ${WHALE_WEB_CPP}
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${PROJECT_SOURCE_DIR}/web -DOUT=${WHALE_WEB_CPP}
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_web_gen.cmake
  DEPENDS ${WHALE_WEB_FILES} ${PROJECT_SOURCE_DIR}/cmake/embed_web_gen.cmake
  COMMENT "Embedding web assets")
add_library(whale_web_assets STATIC ${WHALE_WEB_CPP})
target_include_directories(whale_web_assets PUBLIC ${PROJECT_SOURCE_DIR}/src)
if(TARGET whale_server)
  get_target_property(_server_type whale_server TYPE)
  if(_server_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(whale_server INTERFACE whale_web_assets)
  else()
    target_link_libraries(whale_server PUBLIC whale_web_assets)
  endif()
endif()
