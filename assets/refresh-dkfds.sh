#!/usr/bin/env bash
# Refreshes the vendored Det Fælles Designsystem (DKFDS) in assets/dkfds/ from the npm
# registry: the compiled stylesheet, every font and image the stylesheet refers to, the icon
# sprite, and the licence. Nothing else of the package is kept (no JavaScript: every page
# works without it, see docs/decisions.md). The server embeds assets/dkfds/ at compile time
# (build.rs), so `cargo run` needs no Node; only this script does.
# Usage: bash assets/refresh-dkfds.sh [version]   (default: the version in assets/dkfds/VERSION)
set -euo pipefail
cd "$(dirname "$0")/dkfds"
VERSION="${1:-$(cat VERSION)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "dkfds@$VERSION" >/dev/null && tar xzf "dkfds-$VERSION.tgz")
dist="$work/package/dist"
find . -mindepth 1 ! -name VERSION -delete
mkdir -p css
cp "$dist/css/dkfds.min.css" css/
cp "$dist/LICENSE.md" LICENSE.md
mkdir -p img && cp "$dist/img/all-svg-icons.svg" img/
# Every url(../…) in the stylesheet, relative to css/.
grep -o 'url([^)]*)' css/dkfds.min.css | sed -e 's/^url(//' -e 's/)$//' -e 's/["'\'']//g' \
  | grep '^\.\./' | sed 's|^\.\./||' | sort -u | while read -r file; do
    mkdir -p "$(dirname "$file")"
    cp "$dist/$file" "$file"
  done
cp "$dist/fonts/IBMPlexSans/complete/woff2/license.txt" fonts/IBMPlexSans/LICENSE.txt 2>/dev/null || true
echo "$VERSION" > VERSION
echo "DKFDS $VERSION: $(find . -type f | wc -l) files, $(du -sh . | cut -f1)"
