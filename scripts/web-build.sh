#!/usr/bin/env bash
# Builds the web client (web/): xmpp-proto compiled to WebAssembly with
# wasm-bindgen, into web/www/pkg, ready to serve with web/www. Installs
# what it needs (the wasm32 target, wasm-bindgen-cli matching the crate,
# binaryen's wasm-opt from npm (Debian's is too old for what rustc emits),
# and, as root, Debian's brotli for the size figures).
# Prints RESULT lines: the module's size raw, after wasm-opt, and
# compressed with gzip and brotli.
set -euo pipefail
TAG=web-build
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/interop/lib.sh"

# The wasm-bindgen CLI must be the version of the crate web/ pins.
BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' "$ROOT/web/Cargo.toml")"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 ||
  rustup target list --installed | grep -qx wasm32-unknown-unknown ||
  fail "the wasm32-unknown-unknown target is not installed and cannot be fetched"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi
if [ "$(id -u)" = 0 ]; then
  install_packages brotli
  # Node.js may come from elsewhere than Debian (with its own npm).
  command -v npm >/dev/null || install_packages nodejs npm
fi
(cd "$HERE/browser" && npm ci --no-audit --no-fund --loglevel=error)
WASM_OPT="$HERE/browser/node_modules/.bin/wasm-opt"

TARGET_DIR="${WEB_TARGET_DIR:-$ROOT/web/target}"
say "checking web/ (clippy, warnings as errors)"
cargo clippy --manifest-path "$ROOT/web/Cargo.toml" --target wasm32-unknown-unknown --release \
  --target-dir "$TARGET_DIR" -- -D warnings
say "building web/ for wasm32-unknown-unknown"
cargo build --manifest-path "$ROOT/web/Cargo.toml" --target wasm32-unknown-unknown --release \
  --target-dir "$TARGET_DIR"
wasm="$TARGET_DIR/wasm32-unknown-unknown/release/xmpp_web.wasm"
out="$ROOT/web/www/pkg"
rm -rf "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" "$wasm"
module="$out/xmpp_web_bg.wasm"
echo "RESULT web module after wasm-bindgen: $(stat -c %s "$module") bytes"
# The features come from the module's target_features section.
"$WASM_OPT" -Oz --strip-debug --strip-producers --strip-target-features "$module" -o "$module.opt"
mv "$module.opt" "$module"
echo "RESULT web module after wasm-opt -Oz: $(stat -c %s "$module") bytes"
echo "RESULT web module gzip -9: $(gzip -9 -c "$module" | wc -c) bytes"
if command -v brotli >/dev/null; then
  echo "RESULT web module brotli -q 11: $(brotli -q 11 -c "$module" | wc -c) bytes"
fi
say "built $out (serve web/www)"
