// Runs the Khronos glTF Validator (npm `gltf-validator`, installed by the set-up) over the
// files named on the command line and prints one JSON line per file:
//   {"file": ..., "errors": n, "warnings": n, "messages": [{code, severity, pointer, message}]}
// Usage: node scripts/validate_gltf.cjs NODE_MODULES FILE...
"use strict";
const fs = require("fs");
const path = require("path");

const [modules, ...files] = process.argv.slice(2);
const validator = require(path.join(modules, "gltf-validator"));

async function check(file) {
  const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
    uri: path.basename(file),
    maxIssues: 50,
    externalResourceFunction: () => Promise.reject("external resources are not followed"),
  });
  const issues = report.issues;
  return {
    file,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    messages: issues.messages.map(({ code, severity, pointer, message }) => ({
      code, severity, pointer, message,
    })),
  };
}

(async () => {
  for (const file of files) {
    try {
      console.log(JSON.stringify(await check(file)));
    } catch (err) {
      console.log(JSON.stringify({ file, errors: 1, warnings: 0, messages: [{ code: "UNREADABLE", severity: 0, message: String(err) }] }));
    }
  }
})();
