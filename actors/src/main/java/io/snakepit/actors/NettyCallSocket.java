package io.snakepit.actors;

import com.google.protobuf.CodedOutputStream;
import io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelFuture;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInitializer;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.SimpleChannelInboundHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.snakepit.actors.worker.CallSocket;
import io.snakepit.proto.CallFrame;
import io.snakepit.proto.ResultFrame;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A worker's calls socket over Netty's epoll domain sockets, on the node's worker event loop. Frames are written from
 * any thread; result frames are parsed and handed to the receiver on the event loop, with no further hop (the receiver
 * only tells an actor).
 */
final class NettyCallSocket implements CallSocket {
  private static final int LENGTH_BYTES = 4;

  private final Channel channel;
  private final CallSocket.Receiver receiver;
  private final OutOfMemory outOfMemory;
  private final String peer;
  // Guarded by this: frames sent before the connection is up, in order; null once it is up (or failed).
  private List<CallFrame> waiting = new ArrayList<>();
  private volatile boolean closed;
  private volatile Throwable cause;

  private NettyCallSocket(EventLoopGroup events, String socketPath, int maxFrame, CallSocket.Receiver receiver,
      OutOfMemory outOfMemory) {
    this.receiver = receiver;
    this.outOfMemory = outOfMemory;
    this.peer = "the worker's calls socket " + socketPath;
    ChannelFuture connecting = new Bootstrap()
        .group(events)
        .channel(EpollDomainSocketChannel.class)
        .handler(new ChannelInitializer<EpollDomainSocketChannel>() {
          @Override
          protected void initChannel(EpollDomainSocketChannel ch) {
            ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(maxFrame, 0, LENGTH_BYTES, 0, LENGTH_BYTES),
                new Results());
          }
        })
        .connect(new DomainSocketAddress(socketPath));
    this.channel = connecting.channel();
    connecting.addListener(done -> connected(done.isSuccess() ? null : done.cause()));
  }

  static CallSocket open(EventLoopGroup events, String socketPath, int maxFrame, CallSocket.Receiver receiver,
      OutOfMemory outOfMemory) {
    return new NettyCallSocket(events, socketPath, maxFrame, receiver, outOfMemory);
  }

  private void connected(Throwable failure) {
    List<CallFrame> held;
    synchronized (this) {
      held = waiting;
      waiting = null;
      if (failure == null) {
        // Written inside the lock (on the event loop, so at once): a frame sent meanwhile queues behind these.
        held.forEach(frame -> channel.write(encode(frame)));
        channel.flush();
        return;
      }
    }
    cause = new IOException("cannot connect to " + peer + ": " + failure.getMessage(), failure);
    // channelInactive does not fire for a connection that never opened.
    finish();
  }

  @Override
  public void send(CallFrame frame) {
    synchronized (this) {
      if (waiting != null) {
        waiting.add(frame);
        return;
      }
    }
    if (!closed) {
      channel.writeAndFlush(encode(frame), channel.voidPromise());
    }
  }

  @Override
  public void close() {
    channel.close();
  }

  private ByteBuf encode(CallFrame frame) {
    int size = frame.getSerializedSize();
    ByteBuf buf = channel.alloc().directBuffer(LENGTH_BYTES + size);
    buf.writeInt(size);
    try {
      CodedOutputStream out = CodedOutputStream.newInstance(buf.nioBuffer(LENGTH_BYTES, size));
      frame.writeTo(out);
      out.checkNoSpaceLeft();
    } catch (IOException | RuntimeException e) {
      buf.release();
      throw new IllegalStateException("cannot encode a call frame of " + size + " bytes for " + peer, e);
    }
    buf.writerIndex(LENGTH_BYTES + size);
    return buf;
  }

  private void finish() {
    if (!closed) {
      closed = true;
      receiver.closed(cause);
    }
  }

  /** Parses each result frame and hands it on; records why the connection broke, and tells its end once. */
  private final class Results extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) throws IOException {
      ResultFrame result = ResultFrame.parseFrom(frame.nioBuffer());
      try {
        receiver.received(result);
      } catch (RuntimeException | Error e) {
        if (!outOfMemory.handle(e, "handing on a result of " + peer)) {
          throw e;
        }
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable error) {
      outOfMemory.handle(error, "reading " + peer);
      cause = error instanceof IOException ? error
          : new IOException("the connection to " + peer + " broke: " + error, error);
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      finish();
    }
  }
}
