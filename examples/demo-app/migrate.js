// Switchyard demo app: the migration task (cluster.yaml `tasks`), run once per colour and tag before the
// colour may go live, from the same image or release as the web service. The demo has no real database:
// it says what it would migrate to and exits 0 (a non-zero exit would keep the colour out of live traffic).
import { database, version } from './version.js';

console.log(`migrate: schema at ${version}; database ${database}`);
