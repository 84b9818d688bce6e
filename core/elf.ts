// ELF facts: the machine a binary is for, and tiny static programs that prove an emulator
// runs: each is a complete executable that exits with status 42 through the raw exit
// syscall, so only a working kernel handler + interpreter can make it return 42.

/** e_machine of an ELF image, or undefined when the bytes are not ELF. */
export function elfMachine(bytes: Uint8Array): number | undefined {
    if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
        return undefined;
    const little = bytes[5] === 1;
    return little ? bytes[18] | (bytes[19] << 8) : (bytes[18] << 8) | bytes[19];
}

export const PROOF_EXIT_CODE = 42;

interface Spec {
    machine: number;
    bits: 32 | 64;
    little: boolean;
    flags?: number;
    /** exit(42), in the order the bytes sit in the file. */
    code: number[];
}

const SPECS: Record<string, Spec> = {
    // mov edi, 42; mov eax, 60 (exit); syscall
    amd64: { machine: 62, bits: 64, little: true, code: [0xbf, 0x2a, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05] },
    // movz x0, #42; movz x8, #93 (exit); svc #0
    arm64: {
        machine: 183,
        bits: 64,
        little: true,
        code: [0x40, 0x05, 0x80, 0xd2, 0xa8, 0x0b, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4],
    },
    // addi a0, zero, 42; addi a7, zero, 93 (exit); ecall
    riscv64: {
        machine: 243,
        bits: 64,
        little: true,
        code: [0x13, 0x05, 0xa0, 0x02, 0x93, 0x08, 0xd0, 0x05, 0x73, 0, 0, 0],
    },
    // li r3, 42; li r0, 1 (exit); sc   (ELFv2 ABI)
    ppc64le: {
        machine: 21,
        bits: 64,
        little: true,
        flags: 2,
        code: [0x2a, 0, 0x60, 0x38, 0x01, 0, 0, 0x38, 0x02, 0, 0, 0x44],
    },
    // lghi %r2, 42; svc 1 (exit)
    s390x: { machine: 22, bits: 64, little: false, code: [0xa7, 0x29, 0x00, 0x2a, 0x0a, 0x01] },
    // mov r0, #42; mov r7, #1 (exit); svc #0   (EABI 5)
    arm: {
        machine: 40,
        bits: 32,
        little: true,
        flags: 0x05000000,
        code: [0x2a, 0, 0xa0, 0xe3, 0x01, 0x70, 0xa0, 0xe3, 0, 0, 0, 0xef],
    },
    // mov ebx, 42; mov eax, 1 (exit); int 0x80
    "386": { machine: 3, bits: 32, little: true, code: [0xbb, 0x2a, 0, 0, 0, 0xb8, 0x01, 0, 0, 0, 0xcd, 0x80] },
};

export function canProve(architecture: string): boolean {
    return architecture in SPECS;
}

/** A complete static ELF executable for `architecture` that exits with PROOF_EXIT_CODE. */
export function exitProgram(architecture: string): Buffer {
    const s = SPECS[architecture];
    if (!s) throw new Error(`no proof program for ${architecture}`);
    const wide = s.bits === 64;
    const ehsize = wide ? 64 : 52,
        phsize = wide ? 56 : 32;
    const total = ehsize + phsize + s.code.length;
    const base = 0x400000;
    const b = Buffer.alloc(total);
    const u16 = (v: number, o: number) => (s.little ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
    const u32 = (v: number, o: number) => (s.little ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
    const addr = (v: number, o: number) =>
        wide ? (s.little ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o)) : u32(v, o);
    b.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, s.little ? 1 : 2, 1, 0], 0); // ELF, class, data, version, SysV
    u16(2, 16); // ET_EXEC
    u16(s.machine, 18);
    u32(1, 20);
    const w = wide ? 8 : 4;
    addr(base + ehsize + phsize, 24); // e_entry
    addr(ehsize, 24 + w); // e_phoff
    // e_shoff stays 0
    const after = 24 + 3 * w;
    u32(s.flags ?? 0, after); // e_flags
    u16(ehsize, after + 4);
    u16(phsize, after + 6);
    u16(1, after + 8); // e_phnum
    const ph = ehsize;
    u32(1, ph); // PT_LOAD
    if (wide) {
        u32(5, ph + 4); // p_flags R+X
        addr(0, ph + 8); // p_offset
        addr(base, ph + 16); // p_vaddr
        addr(base, ph + 24); // p_paddr
        addr(total, ph + 32); // p_filesz
        addr(total, ph + 40); // p_memsz
        addr(0x1000, ph + 48); // p_align
    } else {
        u32(0, ph + 4); // p_offset
        u32(base, ph + 8);
        u32(base, ph + 12);
        u32(total, ph + 16);
        u32(total, ph + 20);
        u32(5, ph + 24); // p_flags
        u32(0x1000, ph + 28);
    }
    b.set(s.code, ehsize + phsize);
    return b;
}
