// Mocha's spec reporter plus one closing line CI can read: "N passed, N failed".
// With MOCHA_COUNTS_FILE set, also appends "passed failed" there for scripts/test to sum.
const fs = require("fs");
const Mocha = require("mocha");

class CountingReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once("end", () => {
            const { passes, failures, pending } = this.stats;
            if (pending > 0) console.log(`${pending} pending (skipped) tests: a skipped test hides a failure; fix it`);
            console.log(`${passes} passed, ${failures + pending} failed`);
            if (process.env.MOCHA_COUNTS_FILE)
                fs.appendFileSync(process.env.MOCHA_COUNTS_FILE, `${passes} ${failures + pending}\n`);
        });
    }
}
module.exports = CountingReporter;
