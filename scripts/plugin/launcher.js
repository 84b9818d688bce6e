#!/usr/bin/env node
// pulumi-resource-multiarch: starts the plugin bundle beside it (pulumi-resource-multiarch.js)
// with V8's code cache, so each start skips compiling 1.8 MB of JavaScript (about a third of
// the start-up). The cache is written beside the bundle after the first start, keyed by
// Node.js version; a cache V8 rejects (another Node.js) is replaced, one that cannot be
// written is simply not used.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const Module = require("module");

const file = path.join(__dirname, "pulumi-resource-multiarch.js");
const cacheFile = `${file}.${process.version}.v8cache`;
let cachedData;
try {
    cachedData = fs.readFileSync(cacheFile);
} catch {
    /* first start */
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
const bundle = new Module(file, module);
bundle.filename = file;
bundle.paths = Module._nodeModulePaths(__dirname);
script.runInThisContext().call(bundle.exports, bundle.exports, (id) => bundle.require(id), bundle, file, __dirname);
if (!cachedData || script.cachedDataRejected) {
    // Once the port is printed (start-up done, and not delayed by this), so the functions
    // start-up compiled are in the cache too.
    const write = process.stdout.write;
    process.stdout.write = function (...args) {
        process.stdout.write = write;
        const r = write.apply(this, args);
        try {
            const tmp = `${cacheFile}.${process.pid}`;
            fs.writeFileSync(tmp, script.createCachedData());
            fs.renameSync(tmp, cacheFile);
        } catch {
            /* a read-only plugin directory: start without a cache */
        }
        return r;
    };
}
