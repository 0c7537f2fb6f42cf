{
  "targets": [
    {
      "target_name": "lanboot_packet",
      "sources": ["lanboot_packet.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
