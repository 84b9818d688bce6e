// Bench stacks run through the `pulumi` CLI, as users run them: one project directory per
// program under .state/bench/projects/<project>/ whose Pulumi.yaml points `main` at the
// program (the main job at the repository root, or one of bench/programs/). The project
// name starts with "bench-", so default names derived from it (the main job's builder,
// `<project>-<stack>-builder`) are the bench's own.
import * as fs from "fs";
import * as path from "path";
import { ROOT, WORK, out, timed, Timed } from "./sh";

export class BenchStack {
    readonly dir: string;

    constructor(readonly project: string, readonly stack: string, main: string) {
        if (!project.startsWith("bench-")) throw new Error(`bench project names start with bench-: ${project}`);
        this.dir = path.join(WORK, "projects", project);
        fs.mkdirSync(this.dir, { recursive: true });
        fs.writeFileSync(path.join(this.dir, "Pulumi.yaml"), [
            `name: ${project}`,
            "runtime:",
            "  name: nodejs",
            "  options:",
            "    typescript: true",
            `main: ${path.resolve(ROOT, main)}`,
            "",
        ].join("\n"));
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

    async destroy(env?: Record<string, string>): Promise<void> {
        if (!this.exists()) return;
        await timed("pulumi", this.cli(["destroy", "--yes", "--skip-preview"]), { env });
        out("pulumi", ["stack", "rm", this.stack, "--yes", "--cwd", this.dir, "--non-interactive"]);
    }
}

/** "+ 1 created", "~ 1 updated": the change counts of a `pulumi up` summary. */
export function parseChanges(upOutput: string): Record<string, number> {
    const changes: Record<string, number> = {};
    const block = upOutput.split(/^Resources:\s*$/m)[1] ?? "";
    for (const m of block.matchAll(/^\s+(?:[+~-]|\+-|-\+)?\s*(\d+)\s+(created|updated|deleted|replaced|unchanged|to create|to update|to delete|to replace)\b/gm)) {
        changes[m[2]] = Number(m[1]);
    }
    return changes;
}
