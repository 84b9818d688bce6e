// What the plugin needs of each resource type: check / diff / create / read / update / delete
// on plain values (no secret wrappers; a value unknown at preview is wire.UNKNOWN).
export interface CheckFailure {
    property: string;
    reason: string;
}

export interface Lifecycle {
    check(olds: any, news: any): Promise<{ inputs?: any; failures?: CheckFailure[] }>;
    diff(
        id: string,
        olds: any,
        news: any,
    ): Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
    create(inputs: any): Promise<{ id: string; outs?: any }>;
    read(id: string, props: any): Promise<{ id?: string; props?: any; inputs?: any }>;
    update(id: string, olds: any, news: any): Promise<{ outs?: any }>;
    delete(id: string, props: any): Promise<void>;
}
