// Bench stacks run through the `pulumi` CLI, as users run them: one project directory per
// program under .state/bench/projects/<project>/ whose Pulumi.yaml points `main` at the
// program's file (the main job's index.ts, or one of bench/programs/); the program then runs
// in that file's folder. A file, not a folder: for a folder the Node.js runtime would take
// the entry point from the nearest package.json, which for this repository is the built
// library (dist/components/index.js) once `npm run build` has run. The project
// name starts with "bench-", so default names derived from it (the main job's builder,
// `<project>-<stack>-builder`) are the bench's own.
import * as fs from "fs";
import * as path from "path";

import { out, ROOT, type Timed, timed, WORK } from "./sh";

export class BenchStack {
    readonly dir: string;

    constructor(
        readonly project: string,
        readonly stack: string,
        program: string,
    ) {
        if (!project.startsWith("bench-")) throw new Error(`bench project names start with bench-: ${project}`);
        if (!program.endsWith(".ts")) throw new Error(`give the program's file, not its folder: ${program}`);
        this.dir = path.join(WORK, "projects", project);
        fs.mkdirSync(this.dir, { recursive: true });
        fs.writeFileSync(
            path.join(this.dir, "Pulumi.yaml"),
            [
                `name: ${project}`,
                "runtime:",
                "  name: nodejs",
                "  options:",
                "    typescript: true",
                `main: ${path.resolve(ROOT, program)}`,
                "",
            ].join("\n"),
        );
    }

    private cli(args: string[]): string[] {
        return [...args, "--stack", this.stack, "--cwd", this.dir, "--non-interactive"];
    }

    exists(): boolean {
        return fs.existsSync(path.join(ROOT, ".state/pulumi/.pulumi/stacks", this.project, `${this.stack}.json`));
    }

    /** Selects or creates the stack and sets its config (values are JSON-encoded when not strings). */
    init(config: Record<string, unknown>): void {
        if (!this.exists()) out("pulumi", ["stack", "init", this.stack, "--cwd", this.dir, "--non-interactive"]);
        this.config(config);
    }

    config(config: Record<string, unknown>): void {
        for (const [k, v] of Object.entries(config)) {
            out("pulumi", this.cli(["config", "set", k, typeof v === "string" ? v : JSON.stringify(v)]));
        }
    }

    /** `pulumi up --yes`; with `preview: false` adds --skip-preview (what the Automation API does). */
    up(opts: { preview?: boolean; sampleMemory?: boolean; env?: Record<string, string> } = {}): Promise<Timed> {
        const flags = ["up", "--yes", ...(opts.preview === false ? ["--skip-preview"] : [])];
        return timed("pulumi", this.cli(flags), { sampleMemory: opts.sampleMemory, env: opts.env });
    }

    preview(env?: Record<string, string>): Promise<Timed> {
        return timed("pulumi", this.cli(["preview", "--diff"]), { env });
    }

    outputs(): Record<string, any> {
        return JSON.parse(out("pulumi", this.cli(["stack", "output", "--json"])));
    }

    exportState(): any {
        return JSON.parse(out("pulumi", this.cli(["stack", "export"])));
    }

    /**
     * A BinfmtSetup (main job, bench/programs/ours) removes the emulators it registered when
     * destroyed; other work on this machine uses them. If it registered any (they were missing
     * when the stack was created), the state is edited to own none, so destroy leaves them.
     * Returns the handlers released.
     */
    releaseOwnedHandlers(): string[] {
        const state = this.exportState();
        const owned = new Set<string>();
        // `owned` is what the dynamic provider's delete unregisters; `ownedHandlers` the component's copy.
        for (const r of state.deployment?.resources ?? []) {
            for (const field of ["owned", "ownedHandlers"]) {
                if (Array.isArray(r.outputs?.[field]) && r.outputs[field].length) {
                    for (const h of r.outputs[field]) owned.add(h);
                    r.outputs[field] = [];
                }
            }
        }
        if (!owned.size) return [];
        const file = path.join(WORK, `${this.project}-${this.stack}.state.json`);
        fs.writeFileSync(file, JSON.stringify(state));
        try {
            out("pulumi", this.cli(["stack", "import", "--file", file]));
        } finally {
            fs.rmSync(file, { force: true });
        }
        return [...owned];
    }

    async destroy(env?: Record<string, string>): Promise<void> {
        if (!this.exists()) return;
        await timed("pulumi", this.cli(["destroy", "--yes", "--skip-preview"]), { env });
        out("pulumi", ["stack", "rm", this.stack, "--yes", "--cwd", this.dir, "--non-interactive"]);
    }
}
