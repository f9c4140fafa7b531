// ddl_standalone.test.mjs -- DDL and metadata flows of the Node SDK against
// `quiver standalone` (coord and proxy in one process on LMDB).
import { ddlSuite } from './lib/ddl_suite.mjs';
import { startQuiver } from './lib/servers.mjs';

ddlSuite('standalone', () => startQuiver());
