#!/usr/bin/env bash
# Copies what the web client loads from npm packages into gateway/web/vendor/, from
# node_modules as package.json pins it (run tools/install.sh first): markdown-it's
# browser build (the UMD file: one classic script, no imports, no eval) and the licence
# texts of markdown-it and of each package bundled into that file, as each ships it.
# The gateway image carries gateway/web/ whole; tests/test_repository.py checks that the
# committed copies are exactly these, so the pin and the served file cannot drift apart.
#   tools/vendor-web.sh     after changing markdown-it's or cytoscape's pin in package.json
set -euo pipefail
cd "$(dirname "$0")/.."

package=node_modules/markdown-it
vendor=gateway/web/vendor
[[ -f $package/package.json ]] || { echo "vendor-web: $package is missing: run tools/install.sh" >&2; exit 1; }

version_of() { node -p "require('./$1/package.json').version"; }

# Each of markdown-it's dependencies but argparse (its command line's, not in the browser build),
# where Node would find it: inside markdown-it's own node_modules first.
bundled=()
for name in $(node -p "Object.keys(require('./$package/package.json').dependencies).sort().join(' ')"); do
  [[ $name == argparse ]] && continue
  if [[ -d $package/node_modules/$name ]]; then bundled+=("$package/node_modules/$name"); else bundled+=("node_modules/$name"); fi
done

mkdir -p "$vendor"
cp "$package/dist/browser/markdown-it.umd.min.js" "$vendor/markdown-it.umd.min.js"
{
  echo "The web client's copy of markdown-it $(version_of "$package") (vendor/markdown-it.umd.min.js, the"
  echo "package's dist/browser/markdown-it.umd.min.js) bundles the packages named below. Each"
  echo "section is one package's licence, exactly as that package ships it."
  for dir in "$package" "${bundled[@]}"; do
    licence=$(find "$dir" -maxdepth 1 -type f -iname 'licen[cs]e*' | sort | head -n 1)
    [[ -n $licence ]] || { echo "vendor-web: no licence file in $dir" >&2; exit 1; }
    echo
    echo "======== $(node -p "require('./$dir/package.json').name") $(version_of "$dir") ($licence)"
    cat "$licence"
  done
} >"$vendor/markdown-it.LICENSE.txt"
echo "vendor-web: $vendor/markdown-it.umd.min.js and markdown-it.LICENSE.txt from markdown-it $(version_of "$package")"

# Cytoscape.js (the graph view, graph-view.js): its minified ES module, loaded only when the view
# opens, as .js (served as JavaScript by any server's types), and its licence as it ships it. It
# bundles no other package (it has no dependencies).
cytoscape=node_modules/cytoscape
[[ -f $cytoscape/package.json ]] || { echo "vendor-web: $cytoscape is missing: run tools/install.sh" >&2; exit 1; }
cp "$cytoscape/dist/cytoscape.esm.min.mjs" "$vendor/cytoscape.esm.min.js"
cp "$cytoscape/LICENSE" "$vendor/cytoscape.LICENSE.txt"
echo "vendor-web: $vendor/cytoscape.esm.min.js and cytoscape.LICENSE.txt from cytoscape $(version_of "$cytoscape")"
