#!/bin/sh
# Formats the C sources as GStreamer's gst-indent does (GNU indent, Debian
# package `indent`), twice, as gst-indent does, so the result is stable.
#   scripts/indent.sh [FILES...]     (default: every .c file of the tree;
# headers are kept by hand, as in GStreamer: indent mangles G_BEGIN_DECLS)
set -eu
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  set -- $(git ls-files '*.c')
fi
for pass in 1 2; do
  indent \
    --braces-on-if-line \
    --case-brace-indentation0 \
    --case-indentation2 \
    --braces-after-struct-decl-line \
    --line-length80 \
    --no-tabs \
    --cuddle-else \
    --dont-line-up-parentheses \
    --continuation-indentation4 \
    --honour-newlines \
    --tab-size8 \
    --indent-level2 \
    --leave-preprocessor-space \
    "$@"
done
rm -f -- *~ src/*~ plugin/*~ tests/*~ tests/*/*~ pipelines/*~
find . -name '*.c~' -o -name '*.h~' | xargs -r rm -f
