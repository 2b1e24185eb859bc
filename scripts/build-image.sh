#!/usr/bin/env bash
# Builds the node's image (Dockerfile) and tags it with the git commit it was built from:
#   <image>:<full sha>, <image>:<short sha>, and <image>:latest (unless --no-latest).
# A dirty working tree is refused: a tag must name exactly the code inside it.
#   bash scripts/build-image.sh [--image velox-node] [--push] [--no-latest]
# IMAGE (default velox-node) may carry a registry prefix (registry.example.com/velox-node).
set -euo pipefail
cd "$(dirname "$0")/.."

image="${IMAGE:-velox-node}"
push=0
latest=1
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="$2"; shift 2 ;;
    --push) push=1; shift ;;
    --no-latest) latest=0; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "refusing to build: the working tree has uncommitted changes (the tag would not name the code)" >&2
  exit 1
fi
sha="$(git rev-parse HEAD)"
short="$(git rev-parse --short=12 HEAD)"

tags=(-t "$image:$sha" -t "$image:$short")
[ "$latest" = 1 ] && tags+=(-t "$image:latest")
docker build --label "org.opencontainers.image.revision=$sha" "${tags[@]}" .
echo "built $image:$sha ($image:$short)"

if [ "$push" = 1 ]; then
  docker push "$image:$sha"
  docker push "$image:$short"
  [ "$latest" = 1 ] && docker push "$image:latest"
fi
