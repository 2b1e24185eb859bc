# Image for the API and worker replicas (see docker-compose.yml). TypeScript runs through tsx,
# a runtime dependency, so there is no build step.
FROM node:20-bookworm-slim

# package.json records npm 11 `allowScripts`; use the npm the project is developed with.
RUN npm install -g npm@11 --no-audit --no-fund

WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: tsx is one of them; the dev tools (tsc, eslint, jest) are not needed.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .

ENV NODE_ENV=production
USER node
EXPOSE 3000
CMD ["npx", "tsx", "bin/node.ts"]
