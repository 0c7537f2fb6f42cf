{
  "targets": [
    {
      "target_name": "lanboot_packet",
      "sources": ["lanboot_packet.c", "lanboot_udp.c", "napi_util.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    },
    {
      "target_name": "lanboot_caps",
      "sources": ["lanboot_caps.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "lanboot_tftp",
      "sources": ["tftp_engine.c", "napi_util.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
