// Entrypoint: the roles in ROLES (default: the API and the Temporal worker in one process).
import { runMain } from '../app/node';

runMain();
