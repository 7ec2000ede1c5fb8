"""A minimal CRI client for the containerd oracle specs: the three questions crictl would ask.

usage: cri.py SOCKET status | imagefsinfo | image_status REF | pull REF

No crictl exists in Debian 12 or sid, so this speaks runtime.v1 itself over gRPC (Debian's
python3-grpcio), with the few protobuf messages encoded by hand from the CRI API
(k8s.io/cri-api/pkg/apis/runtime/v1/api.proto):
  status       RuntimeService/Status{verbose: true} -> the info map as JSON (its "config" is the
               running CRI plugin's configuration, what `crictl info` prints)
  imagefsinfo  ImageService/ImageFsInfo -> the image filesystems' mountpoints (what
               `crictl imagefsinfo` shows: the snapshotter the CRI image service uses)
  image_status ImageService/ImageStatus{image: {image: REF}} -> {id, repoTags, repoDigests} or
               null: the lookup the kubelet does before it would pull REF
  pull         ImageService/PullImage{image: {image: REF}} -> {"ref": ...} or {"error": gRPC details}
               (exit 0 either way: the spec looks at where the pull went, not whether it worked)
"""
import json
import sys

import grpc


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Decode one protobuf message into [(field number, value)] (bytes for length-delimited)."""
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            value = buf[i:i + n]
            i += n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        out.append((num, value))
    return out


def length_delimited(num, payload):
    n, size = len(payload), b""
    while True:
        b = n & 0x7F
        n >>= 7
        size += bytes([b | (0x80 if n else 0)])
        if not n:
            return bytes([(num << 3) | 2]) + size + payload


def main():
    sock, method = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel("unix://" + sock)

    def call(path, request):
        return channel.unary_unary(path)(request, timeout=30)

    if method == "status":
        info = {}
        for num, value in fields(call("/runtime.v1.RuntimeService/Status", b"\x08\x01")):
            if num == 2:  # map<string, string> info
                entry = dict(fields(value))
                info[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
        print(json.dumps(info))
    elif method == "imagefsinfo":
        mountpoints = []
        for num, value in fields(call("/runtime.v1.ImageService/ImageFsInfo", b"")):
            if num == 1:  # repeated FilesystemUsage image_filesystems
                for n2, v2 in fields(value):
                    if n2 == 2:  # FilesystemIdentifier fs_id {string mountpoint = 1}
                        mountpoints.append(dict(fields(v2)).get(1, b"").decode())
        print(json.dumps(mountpoints))
    elif method == "image_status":
        request = length_delimited(1, length_delimited(1, sys.argv[3].encode()))
        response = dict(fields(call("/runtime.v1.ImageService/ImageStatus", request)))
        if 1 not in response:
            print("null")
            return
        image = fields(response[1])
        print(json.dumps({
            "id": next((v.decode() for n, v in image if n == 1), None),
            "repoTags": [v.decode() for n, v in image if n == 2],
            "repoDigests": [v.decode() for n, v in image if n == 3],
        }))
    elif method == "pull":
        request = length_delimited(1, length_delimited(1, sys.argv[3].encode()))
        try:
            response = dict(fields(call("/runtime.v1.ImageService/PullImage", request)))
            print(json.dumps({"ref": response.get(1, b"").decode()}))
        except grpc.RpcError as err:
            print(json.dumps({"error": err.details(), "code": str(err.code())}))
    else:
        sys.exit("unknown method " + method)


if __name__ == "__main__":
    main()
