package io.snakepit.bench;

import io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInitializer;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.SimpleChannelInboundHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.snakepit.proto.CallFrame;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.ResultFrame;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The dispatch benchmark's floor: a client of a worker's calls socket with nothing around it. It speaks the socket's
 * protocol as the pool does (length-prefixed CallFrames and ResultFrames, Netty's epoll domain sockets) and completes a
 * future per call on the I/O thread: no actors, no deadlines, no bookkeeping.
 */
final class RawCallSocket implements AutoCloseable {
  private final Channel channel;
  private final Map<Long, CompletableFuture<ExecuteResponse>> pending = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();

  RawCallSocket(EventLoopGroup events, Path socket) throws InterruptedException {
    this.channel = new Bootstrap().group(events).channel(EpollDomainSocketChannel.class)
        .handler(new ChannelInitializer<EpollDomainSocketChannel>() {
          @Override
          protected void initChannel(EpollDomainSocketChannel ch) {
            ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 24, 0, 4, 0, 4),
                new SimpleChannelInboundHandler<ByteBuf>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) throws IOException {
                    ResultFrame result = ResultFrame.parseFrom(frame.nioBuffer());
                    CompletableFuture<ExecuteResponse> call = pending.remove(result.getId());
                    if (call != null) {
                      call.complete(result.getResponse());
                    }
                  }

                  @Override
                  public void channelInactive(ChannelHandlerContext ctx) {
                    IOException closed = new IOException("the worker closed its calls socket " + socket);
                    pending.values().forEach(call -> call.completeExceptionally(closed));
                  }
                });
          }
        })
        .connect(new DomainSocketAddress(socket.toString())).sync().channel();
  }

  /** Sends a call of {@code request} (a serialized ExecuteRequest); its answer completes the future. */
  CompletableFuture<ExecuteResponse> call(com.google.protobuf.ByteString request) {
    long id = ids.incrementAndGet();
    CompletableFuture<ExecuteResponse> answer = new CompletableFuture<>();
    pending.put(id, answer);
    byte[] frame = CallFrame.newBuilder().setId(id).setRequest(request).build().toByteArray();
    ByteBuf buf = channel.alloc().directBuffer(4 + frame.length).writeInt(frame.length).writeBytes(frame);
    channel.writeAndFlush(buf, channel.voidPromise());
    return answer;
  }

  @Override
  public void close() throws InterruptedException {
    channel.close().sync();
  }
}
