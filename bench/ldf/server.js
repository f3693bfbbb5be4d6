// Starts the Linked Data Fragments server (@ldf/server, Server.js) with a config file, like its own
// `ldf-server config.json [port [workers]]`, except that Components.js looks for component modules in this
// folder's node_modules only. Its default walks up every parent folder, reaches the project's own
// node_modules (Comunica 4, whose component files name a newer Components.js context) and stops there,
// trying to fetch that context from the web.
'use strict';
const path = require('path');
const { ModuleStateBuilder } = require('componentsjs/lib/loading/ModuleStateBuilder');
const { runCustom } = require('@ldf/core/lib/CliRunner');

class HereOnly extends ModuleStateBuilder {
  buildNodeModuleImportPaths() {
    return [__dirname];
  }
}

const mainModulePath = path.join(__dirname, 'node_modules', '@ldf', 'server');
const logger = { info() {}, warn() {}, error: console.error, debug() {} };
new HereOnly(logger).buildModuleState(require, mainModulePath).then(
  (moduleState) => runCustom(process.argv.slice(2), process.stdin, process.stdout, process.stderr, null,
    { mainModulePath, moduleState }),
  (error) => { console.error(error); process.exit(1); },
);
