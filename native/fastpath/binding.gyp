# Offline fast path addon (src/fastpath/): the common TCP packet of a classic pcap or pcapng file from the capture buffer to its
# flow's hot record, in C++. No libpcap: built by scripts/build-native.js at install even where pcap.h is missing.
{
  "targets": [
    {
      "target_name": "sensor_fastpath",
      "sources": ["fast_path.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='mac'", { "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "GCC_OPTIMIZATION_LEVEL": "3" } }]
      ]
    }
  ]
}
