// ELF facts: the machine a binary is for, and tiny static programs that prove an
// emulator runs (each exits with status 42 through the raw exit syscall).

/** e_machine of an ELF image, or undefined when the bytes are not ELF. */
export function elfMachine(bytes: Uint8Array): number | undefined {
    if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return undefined;
    const little = bytes[5] === 1;
    return little ? bytes[18] | (bytes[19] << 8) : (bytes[18] << 8) | bytes[19];
}

export const PROOF_EXIT_CODE = 42;

// exit(42) for each architecture, little-endian machine code.
const EXIT42: Record<string, { machine: number; code: number[] }> = {
    // mov edi, 42; mov eax, 60; syscall
    amd64: { machine: 62, code: [0xbf, 0x2a, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05] },
    // movz x0, #42; movz x8, #93; svc #0
    arm64: { machine: 183, code: [0x40, 0x05, 0x80, 0xd2, 0xa8, 0x0b, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4] },
};

export function canProve(architecture: string): boolean {
    return architecture in EXIT42;
}

/** A complete static ELF64 executable that exits with PROOF_EXIT_CODE. */
export function exitProgram(architecture: string): Buffer {
    const spec = EXIT42[architecture];
    if (!spec) throw new Error(`no proof program for ${architecture}`);
    const base = 0x400000n;
    const ehsize = 64, phsize = 56;
    const total = ehsize + phsize + spec.code.length;
    const b = Buffer.alloc(total);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, SysV
    b.writeUInt16LE(2, 16); // ET_EXEC
    b.writeUInt16LE(spec.machine, 18);
    b.writeUInt32LE(1, 20);
    b.writeBigUInt64LE(base + BigInt(ehsize + phsize), 24); // entry
    b.writeBigUInt64LE(BigInt(ehsize), 32); // phoff
    b.writeUInt16LE(ehsize, 52);
    b.writeUInt16LE(phsize, 54);
    b.writeUInt16LE(1, 56); // phnum
    const ph = ehsize;
    b.writeUInt32LE(1, ph); // PT_LOAD
    b.writeUInt32LE(5, ph + 4); // R+X
    b.writeBigUInt64LE(base, ph + 16); // vaddr
    b.writeBigUInt64LE(base, ph + 24); // paddr
    b.writeBigUInt64LE(BigInt(total), ph + 32); // filesz
    b.writeBigUInt64LE(BigInt(total), ph + 40); // memsz
    b.writeBigUInt64LE(0x1000n, ph + 48); // align
    b.set(spec.code, ehsize + phsize);
    return b;
}
