// Entrypoint for an API replica: the HTTP API only.
import { runMain } from '../app/node';

runMain('api');
