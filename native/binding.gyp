# Live capture addon: libpcap under N-API (node-addon-api, C++ exceptions off).
# Built by scripts/build-native.js at install; needs the Debian package libpcap-dev (pcap.h, libpcap.so).
{
  "targets": [
    {
      "target_name": "sensor_pcap",
      "sources": [
        "src/addon.cc",
        "src/live_capture.cc",
        "src/open_error.cc",
        "src/interfaces.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "libraries": ["-lpcap"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='mac'", { "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17" } }]
      ]
    }
  ]
}
