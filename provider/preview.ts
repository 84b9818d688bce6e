// What the program sees of a resource at preview. To a provider that does not say it supports
// previews, the engine answers Create/Update at preview itself, with the checked inputs as
// the new outputs, and @pulumi/pulumi's Node.js provider server never says so. An Image's
// inputs hold its build secrets, so `pulumi up --debug` printed a plain-string one with the
// engine's answer to RegisterResource. The service the server registers is wrapped here:
// Configure says supportsPreview, and Create/Update at preview answer what the engine would
// have answered, without what `previewOutputs` leaves out. Nothing runs at preview.
import * as grpc from "@grpc/grpc-js";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

type Callback = (err: grpc.ServiceError | null | undefined, resp?: any) => void;
type Implementation = Record<string, (call: any, callback: Callback) => unknown>;

/** `impl` (the provider service of @pulumi/pulumi's server) answering previews itself. */
export function withPreview(
    impl: Implementation,
    previewOutputs: (urn: string, inputs: Record<string, unknown>) => Record<string, unknown>,
): Implementation {
    const answer = (
        urn: string,
        inputs: Struct | undefined,
        Response: typeof provproto.CreateResponse | typeof provproto.UpdateResponse,
        callback: Callback,
    ) => {
        const resp = new Response();
        resp.setProperties(Struct.fromJavaScript(previewOutputs(urn, inputs?.toJavaScript() ?? {}) as any));
        callback(undefined, resp);
    };
    const wrapped: Implementation = Object.create(impl);
    wrapped.configure = (call, callback) =>
        impl.configure.call(impl, call, (err, resp?: provproto.ConfigureResponse) =>
            callback(err, resp?.setSupportspreview(true)),
        );
    wrapped.create = (call: grpc.ServerUnaryCall<provproto.CreateRequest, provproto.CreateResponse>, callback) =>
        call.request.getPreview()
            ? answer(call.request.getUrn(), call.request.getProperties(), provproto.CreateResponse, callback)
            : impl.create.call(impl, call, callback);
    wrapped.update = (call: grpc.ServerUnaryCall<provproto.UpdateRequest, provproto.UpdateResponse>, callback) =>
        call.request.getPreview()
            ? answer(call.request.getUrn(), call.request.getNews(), provproto.UpdateResponse, callback)
            : impl.update.call(impl, call, callback);
    return wrapped;
}

/** Makes every provider service this process serves answer previews itself (call before `main`). */
export function answerPreviews(
    previewOutputs: (urn: string, inputs: Record<string, unknown>) => Record<string, unknown>,
): void {
    const addService = grpc.Server.prototype.addService;
    grpc.Server.prototype.addService = function (service, implementation) {
        const impl =
            service === provrpc.ResourceProviderService
                ? withPreview(implementation as Implementation, previewOutputs)
                : implementation;
        return addService.call(this, service, impl as grpc.UntypedServiceImplementation);
    };
}
