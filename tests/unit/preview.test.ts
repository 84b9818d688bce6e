// At preview the program sees no build secret: the plugin's provider service says it supports
// previews and answers Create/Update at preview with the checked inputs minus the Image's build
// secrets (the engine would have echoed them all). Over real gRPC, with a stand-in for
// @pulumi/pulumi's server implementation (the wrapping is what is tested).
import * as grpc from "@grpc/grpc-js";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as assert from "assert";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

import { answerPreviews } from "../../provider/preview";
import { previewOutputs } from "../../provider/provider";

describe("plugin previews: the Image's build secrets are no output, at preview either", () => {
    const image = "urn:pulumi:dev::p::multiarch:index:MultiArchImage$multiarch:index:Image::hello-image";
    const builder = "urn:pulumi:dev::p::multiarch:index:BuildxBuilder$multiarch:index:Builder::b-builder";
    const inputs = { tags: ["r/h:1"], secrets: { token: "plain-secret" }, secretsRevision: 0 };
    const ran: string[] = [];
    const addService = grpc.Server.prototype.addService;
    let server: grpc.Server;
    let client: provrpc.ResourceProviderClient;

    before(async () => {
        answerPreviews(previewOutputs);
        server = new grpc.Server();
        // What @pulumi/pulumi's server does: no supportsPreview; create/update run the provider.
        server.addService(provrpc.ResourceProviderService, {
            configure: (_call: any, cb: any) => cb(null, new provproto.ConfigureResponse().setAcceptsecrets(true)),
            create: (_call: any, cb: any) => {
                ran.push("create");
                cb(null, new provproto.CreateResponse().setId("id"));
            },
            update: (_call: any, cb: any) => {
                ran.push("update");
                cb(null, new provproto.UpdateResponse());
            },
        });
        const port = await new Promise<number>((resolve, reject) =>
            server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
                e ? reject(e) : resolve(p),
            ),
        );
        client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });
    after(() => {
        grpc.Server.prototype.addService = addService;
        client.close();
        server.forceShutdown();
    });
    const call = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req) =>
        new Promise<Res>((resolve, reject) => fn.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

    it("Configure says it supports previews, and keeps what the server said", async () => {
        const r = await call<provproto.ConfigureRequest, provproto.ConfigureResponse>(
            client.configure,
            new provproto.ConfigureRequest(),
        );
        assert.deepStrictEqual([r.getSupportspreview(), r.getAcceptsecrets()], [true, true]);
    });

    it("Create and Update at preview answer the inputs without the build secrets, running nothing", async () => {
        const created = await call<provproto.CreateRequest, provproto.CreateResponse>(
            client.create,
            new provproto.CreateRequest().setUrn(image).setPreview(true).setProperties(Struct.fromJavaScript(inputs)),
        );
        assert.deepStrictEqual(created.getProperties()!.toJavaScript(), { tags: ["r/h:1"], secretsRevision: 0 });
        const updated = await call<provproto.UpdateRequest, provproto.UpdateResponse>(
            client.update,
            new provproto.UpdateRequest().setUrn(image).setPreview(true).setNews(Struct.fromJavaScript(inputs)),
        );
        assert.deepStrictEqual(updated.getProperties()!.toJavaScript(), { tags: ["r/h:1"], secretsRevision: 0 });
        const other = await call<provproto.CreateRequest, provproto.CreateResponse>(
            client.create,
            new provproto.CreateRequest()
                .setUrn(builder)
                .setPreview(true)
                .setProperties(Struct.fromJavaScript({ name: "b", tls: { key: "k" } })),
        );
        assert.deepStrictEqual(
            other.getProperties()!.toJavaScript(),
            { name: "b", tls: { key: "k" } },
            "other resources' inputs are echoed as the engine did",
        );
        assert.deepStrictEqual(ran, []);
    });

    it("Create and Update outside preview run the provider", async () => {
        await call(
            client.create,
            new provproto.CreateRequest().setUrn(image).setProperties(Struct.fromJavaScript(inputs as any)),
        );
        await call(
            client.update,
            new provproto.UpdateRequest().setUrn(image).setNews(Struct.fromJavaScript(inputs as any)),
        );
        assert.deepStrictEqual(ran, ["create", "update"]);
    });
});
