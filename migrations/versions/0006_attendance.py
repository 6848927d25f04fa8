"""attendance: presence per session or day, notes, platform reports, online rules

Revision ID: 0006_attendance
Revises: 0005_mailings
Create Date: 2026-11-22 07:20:16.626790

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_attendance'
down_revision = '0005_mailings'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('attendance_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_attendance_report_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_attendance_report_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['agenda_session.id'], name=op.f('fk_attendance_report_session_id_agenda_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_report'))
    )
    with op.batch_alter_table('attendance_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_report_event_id'), ['event_id'], unique=False)

    op.create_table('attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('joins', sa.Integer(), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('scan_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['user_account.id'], name=op.f('fk_attendance_by_user_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_attendance_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_attendance_registration_id_registration'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['agenda_session.id'], name=op.f('fk_attendance_session_id_agenda_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance')),
    sa.UniqueConstraint('event_id', 'scan_id', name='uq_attendance_scan')
    )
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_event_day', ['event_id', 'day', 'mode'], unique=False)
        batch_op.create_index('ix_attendance_event_session', ['event_id', 'session_id', 'mode'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_attendance_day', ['registration_id', 'day', 'mode'], unique=True, sqlite_where=sa.text('session_id IS NULL'), postgresql_where=sa.text('session_id IS NULL'))
        batch_op.create_index('uq_attendance_session', ['registration_id', 'session_id', 'mode'], unique=True, sqlite_where=sa.text('session_id IS NOT NULL'), postgresql_where=sa.text('session_id IS NOT NULL'))

    op.create_table('attendance_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_attendance_note_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_attendance_note_registration_id_registration'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['agenda_session.id'], name=op.f('fk_attendance_note_session_id_agenda_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_note')),
    sa.UniqueConstraint('registration_id', 'session_id', name='uq_attendance_note')
    )
    with op.batch_alter_table('attendance_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_note_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_note_session_id'), ['session_id'], unique=False)

    op.create_table('attendance_report_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.String(length=10), nullable=True),
    sa.Column('problem', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_attendance_report_row_registration_id_registration'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['attendance_report.id'], name=op.f('fk_attendance_report_row_report_id_attendance_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_report_row'))
    )
    with op.batch_alter_table('attendance_report_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_report_row_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_report_row_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('agenda_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_checkout', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attendance_min_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attendance_min_percent', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attendance_unit', sa.String(length=10), server_default='session', nullable=False))
    # A forum's attendance is its door: who came on the day.
    op.execute("UPDATE event SET attendance_unit = 'day' WHERE kind = 'forum'")




def downgrade():

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('attendance_unit')
        batch_op.drop_column('attendance_min_percent')
        batch_op.drop_column('attendance_min_minutes')

    with op.batch_alter_table('agenda_session', schema=None) as batch_op:
        batch_op.drop_column('needs_checkout')

    with op.batch_alter_table('attendance_report_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_report_row_report_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_report_row_registration_id'))

    op.drop_table('attendance_report_row')
    with op.batch_alter_table('attendance_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_note_session_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_note_event_id'))

    op.drop_table('attendance_note')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index('uq_attendance_session', sqlite_where=sa.text('session_id IS NOT NULL'), postgresql_where=sa.text('session_id IS NOT NULL'))
        batch_op.drop_index('uq_attendance_day', sqlite_where=sa.text('session_id IS NULL'), postgresql_where=sa.text('session_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_attendance_session_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_registration_id'))
        batch_op.drop_index('ix_attendance_event_session')
        batch_op.drop_index('ix_attendance_event_day')

    op.drop_table('attendance')
    with op.batch_alter_table('attendance_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_report_event_id'))

    op.drop_table('attendance_report')

