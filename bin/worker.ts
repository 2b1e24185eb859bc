// Entrypoint for a worker replica: the Temporal worker and its schedules only.
import { runMain } from '../app/node';

runMain('worker');
