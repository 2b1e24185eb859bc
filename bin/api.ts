// Entrypoint for an API replica: the HTTP API only.
import { runMain } from '../core/node';

runMain('api');
